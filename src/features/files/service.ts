// Files: receiving uploads (streamed to storage, judged by their bytes), serving them to those allowed, and
// removing bytes nothing refers to any more.
import type { Multipart } from '@fastify/multipart'
import type { FastifyBaseLogger } from 'fastify'
import type { Db } from '../../db/client.ts'
import { fail } from '../../errors.ts'
import { UUID_BODY } from '../../schemas/common.ts'
import type { FileRef } from '../../schemas/models.ts'
import { type ImageProcessor, thumbnailKey } from './images.ts'
import type { LinkVariant } from './links.ts'
import { deleteUnreferencedFiles, type FileKind, type FileRow, findFile, findReadableFile, insertFile, storedBytes } from './repository.ts'
import { sniffedType } from './sniff.ts'
import type { ByteRange, FileStorage, StagedUpload, StoredObject } from './storage.ts'
import { readUploadForm, type UploadForm } from './upload.ts'

export type { FileKind, FileRow } from './repository.ts'

const FILE_URL = new RegExp(`^/files/(${UUID_BODY})$`)

export interface ReceivedUpload extends UploadForm {
  mimeType: string
  width: number | null
  height: number | null
  thumbnailSize: number | null
}

export class FilesService {
  constructor (
    private readonly db: Db,
    private readonly storage: FileStorage,
    private readonly images: ImageProcessor,
    private readonly limits: { maxUploadBytes: number, quotaBytes: number },
    private readonly log: FastifyBaseLogger
  ) {}

  /**
   * Reads the upload form. Files are stored as sent. Images (and avatars) must be PNG, JPEG, GIF or WebP by content
   * (415 otherwise) and at most 50 megapixels (413); they are stored re-encoded (see images.ts), with a thumbnail
   * for message images. On success the caller owns the staged bytes: it must commit or discard them.
   */
  async receive (parts: AsyncIterable<Multipart>, kind: FileKind, ownerId: string): Promise<ReceivedUpload> {
    if (kind !== 'file') {
      const form = await readUploadForm(parts, (source, maxBytes) => this.images.stage(source, maxBytes, kind), this.limits.maxUploadBytes)
      await this.checkQuota(ownerId, form.staged)
      const { mimeType, width, height, thumbnailSize } = form.staged
      return { ...form, mimeType, width, height, thumbnailSize }
    }
    const form = await readUploadForm<StagedUpload>(parts, (source, maxBytes) => this.storage.stage(source, maxBytes), this.limits.maxUploadBytes)
    await this.checkQuota(ownerId, form.staged)
    const sniffed = form.declaredType === undefined ? await sniffedType(form.staged.head) : undefined
    return { ...form, mimeType: form.declaredType ?? sniffed ?? 'application/octet-stream', width: null, height: null, thumbnailSize: null }
  }

  /**
   * Checked once the size is known and before anything is stored (the staged bytes are discarded when over).
   * Concurrent uploads of one user are each checked against what is already stored, so together they may pass the
   * quota by their own sizes at most.
   */
  private async checkQuota (ownerId: string, staged: { size: number, discard: () => Promise<void> }): Promise<void> {
    let over: boolean
    try {
      over = await storedBytes(this.db, ownerId) + staged.size > this.limits.quotaBytes
    } catch (err) {
      await staged.discard()
      throw err
    }
    if (over) {
      await staged.discard()
      fail('QUOTA_EXCEEDED', `This upload would take your stored bytes past ${this.limits.quotaBytes} (STORAGE_QUOTA_BYTES)`)
    }
  }

  /** Records uploads' rows in the caller's transaction; the bytes of each are then committed under its row's id. */
  async record (tx: Db, uploads: Array<{ ownerId: string, kind: FileKind, upload: ReceivedUpload }>): Promise<FileRow[]> {
    return insertFile(tx, uploads.map(({ ownerId, kind, upload }) => ({
      ownerId,
      kind,
      name: upload.name,
      size: upload.staged.size,
      mimeType: upload.mimeType,
      sha256: upload.staged.sha256,
      width: upload.width,
      height: upload.height,
      thumbnailSize: upload.thumbnailSize
    })))
  }

  /** Stores an upload as a file of its own (an avatar): the row and the bytes, or neither. */
  async store (ownerId: string, kind: FileKind, upload: ReceivedUpload): Promise<FileRow> {
    try {
      return await this.db.transaction(async (tx) => {
        const [row] = await this.record(tx, [{ ownerId, kind, upload }])
        await upload.staged.commit(row!.id)
        return row!
      })
    } catch (err) {
      await upload.staged.discard()
      throw err
    }
  }

  /** The file, when `userId` may read it; 404 FILE_NOT_FOUND otherwise. */
  async readable (userId: string, fileId: string): Promise<FileRow> {
    return (await findReadableFile(this.db, fileId, userId)) ?? fail('FILE_NOT_FOUND')
  }

  /** The file, for whoever holds a valid signed link to it; 404 FILE_NOT_FOUND when it is gone. */
  async get (fileId: string): Promise<FileRow> {
    return (await findFile(this.db, fileId)) ?? fail('FILE_NOT_FOUND')
  }

  /** The stored bytes of a file or of its thumbnail, all of them or a range. */
  async content (file: FileRow, variant: Exclude<LinkVariant, 'avatar'>, range?: ByteRange): Promise<StoredObject> {
    return (await this.storage.open(variant === 'thumbnail' ? thumbnailKey(file.id) : file.id, range)) ?? fail('FILE_NOT_FOUND')
  }

  url (id: string): string {
    return `/files/${id}`
  }

  /** The file id of a `/files/{id}` URL handed out by url(). */
  idOfUrl (url: string): string | undefined {
    return FILE_URL.exec(url)?.[1]
  }

  /**
   * The API's FileRef. downloadUrl and thumbnailUrl are the unsigned paths here: links are signed as they leave the
   * server (FileLinks.signJson on every JSON response and stream frame), so a stored event never holds a stale one.
   */
  toRef (row: Pick<FileRow, 'id' | 'name' | 'size' | 'mimeType' | 'width' | 'height' | 'thumbnailSize'>): FileRef {
    const url = this.url(row.id)
    return {
      id: row.id,
      name: row.name,
      size: row.size,
      mimeType: row.mimeType,
      url,
      downloadUrl: url,
      width: row.width,
      height: row.height,
      thumbnailUrl: row.thumbnailSize === null ? null : `${url}/thumbnail`
    }
  }

  /**
   * Deletes uploads a crash left half-received or unprocessed (staged files, images being decoded) once they are
   * an hour old: newer ones may belong to another instance sharing the directory. Never fails: it is logged.
   */
  async sweepStaged (olderThanMs = 3600_000): Promise<void> {
    try {
      const swept = await this.storage.sweepStaged(olderThanMs) + await this.images.sweepWork(olderThanMs)
      if (swept > 0) this.log.info({ swept }, 'deleted uploads left by an earlier crash')
    } catch (err) {
      this.log.error({ err }, 'could not sweep staged uploads')
    }
  }

  /** Deletes the rows of those files nothing refers to any more (in the caller's transaction); answers their ids. */
  async removeUnreferenced (tx: Db, ids: string[]): Promise<string[]> {
    return deleteUnreferencedFiles(tx, [...new Set(ids)])
  }

  /** Removes those files (rows, then bytes) that nothing refers to any more. */
  async release (ids: string[]): Promise<void> {
    await this.removeBytes(await this.removeUnreferenced(this.db, ids))
  }

  /** Deletes stored bytes, after the transaction that deleted their rows committed. */
  async removeBytes (ids: string[]): Promise<void> {
    for (const id of ids) {
      try {
        await this.storage.remove(id)
        // Files that never had one cost an unlink of nothing: cheaper than reading which had one before the rows went.
        await this.storage.remove(thumbnailKey(id))
      } catch (err) {
        this.log.error({ err, fileId: id }, 'could not delete stored file bytes')
      }
    }
  }
}
