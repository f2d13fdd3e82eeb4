// Files: receiving uploads (streamed to storage, judged by their bytes), serving them to those allowed, and
// removing bytes nothing refers to any more.
import type { Multipart } from '@fastify/multipart'
import type { FastifyBaseLogger } from 'fastify'
import { fileTypeFromBuffer } from 'file-type'
import type { Db } from '../../db/client.ts'
import { fail } from '../../errors.ts'
import { UUID_BODY } from '../../schemas/common.ts'
import type { FileRef } from '../../schemas/models.ts'
import { deleteUnreferencedFiles, type FileKind, type FileRow, findReadableFile, insertFile, storedBytes } from './repository.ts'
import type { FileStorage, StoredObject } from './storage.ts'
import { readUploadForm, type UploadForm } from './upload.ts'

export type { FileKind, FileRow } from './repository.ts'

export const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp'])
const FILE_URL = new RegExp(`^/files/(${UUID_BODY})$`)

export interface ReceivedUpload extends UploadForm {
  mimeType: string
}

export class FilesService {
  constructor (
    private readonly db: Db,
    private readonly storage: FileStorage,
    private readonly limits: { maxUploadBytes: number, quotaBytes: number },
    private readonly log: FastifyBaseLogger
  ) {}

  /**
   * Reads the upload form and judges the bytes: an image must be PNG, JPEG, GIF or WebP by content (415 otherwise).
   * On success the caller owns the staged bytes: it must commit or discard them.
   */
  async receive (parts: AsyncIterable<Multipart>, kind: FileKind, ownerId: string): Promise<ReceivedUpload> {
    const form = await readUploadForm(parts, this.storage, this.limits.maxUploadBytes)
    try {
      // Checked once the size is known and before anything is stored. Concurrent uploads of one user are each
      // checked against what is already stored, so together they may pass the quota by their own sizes at most.
      if (await storedBytes(this.db, ownerId) + form.staged.size > this.limits.quotaBytes) {
        fail('QUOTA_EXCEEDED', `This upload would take your stored bytes past ${this.limits.quotaBytes} (STORAGE_QUOTA_BYTES)`)
      }
      const sniffed = await fileTypeFromBuffer(form.staged.head)
      if (kind === 'file') return { ...form, mimeType: form.declaredType ?? sniffed?.mime ?? 'application/octet-stream' }
      if (sniffed === undefined || !IMAGE_TYPES.has(sniffed.mime)) fail('UNSUPPORTED_IMAGE')
      return { ...form, mimeType: sniffed.mime }
    } catch (err) {
      await form.staged.discard()
      throw err
    }
  }

  /** Records uploads' rows in the caller's transaction; the bytes of each are then committed under its row's id. */
  async record (tx: Db, uploads: Array<{ ownerId: string, kind: FileKind, upload: ReceivedUpload }>): Promise<FileRow[]> {
    return insertFile(tx, uploads.map(({ ownerId, kind, upload }) => ({ ownerId, kind, name: upload.name, size: upload.staged.size, mimeType: upload.mimeType, sha256: upload.staged.sha256 })))
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

  /** The file and its bytes, when `userId` may read it; 404 FILE_NOT_FOUND otherwise. */
  async open (userId: string, fileId: string): Promise<{ file: FileRow, content: () => Promise<StoredObject> }> {
    const file = await findReadableFile(this.db, fileId, userId)
    if (file === undefined) fail('FILE_NOT_FOUND')
    return {
      file,
      content: async () => (await this.storage.open(file.id)) ?? fail('FILE_NOT_FOUND')
    }
  }

  url (id: string): string {
    return `/files/${id}`
  }

  /** The file id of a `/files/{id}` URL handed out by url(). */
  idOfUrl (url: string): string | undefined {
    return FILE_URL.exec(url)?.[1]
  }

  toRef (row: Pick<FileRow, 'id' | 'name' | 'size' | 'mimeType'>): FileRef {
    return { id: row.id, name: row.name, size: row.size, mimeType: row.mimeType, url: this.url(row.id) }
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
      } catch (err) {
        this.log.error({ err, fileId: id }, 'could not delete stored file bytes')
      }
    }
  }
}
