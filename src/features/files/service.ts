// Files: receiving uploads (streamed to storage, judged by their bytes), serving them to those allowed, avatars,
// and removing bytes nothing refers to any more.
import { join } from 'node:path'
import type { Multipart } from '@fastify/multipart'
import type { FastifyInstance } from 'fastify'
import { fileTypeFromBuffer } from 'file-type'
import type { Db } from '../../db/client.ts'
import { fail } from '../../errors.ts'
import type { User } from '../../schemas/models.ts'
import { type ProfileChanges, UsersService } from '../users/service.ts'
import { deleteUnreferencedFiles, type FileKind, type FileRow, fileUrl, findReadableFile, insertFile } from './repository.ts'
import { LocalFileStorage, type FileStorage, type StoredObject } from './storage.ts'
import { readUploadForm, type UploadForm } from './upload.ts'

const IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp'])
const AVATAR_URL = /^\/files\/([0-9a-f-]{36})$/

export interface ReceivedUpload extends UploadForm {
  mimeType: string
}

export class FilesService {
  readonly storage: FileStorage

  constructor (private readonly app: FastifyInstance) {
    this.storage = new LocalFileStorage(join(app.config.dataDir, 'files'))
  }

  /**
   * Reads the upload form and judges the bytes: an image must be PNG, JPEG, GIF or WebP by content (415 otherwise).
   * On success the caller owns the staged bytes: it must commit or discard them.
   */
  async receive (parts: AsyncIterable<Multipart>, kind: FileKind): Promise<ReceivedUpload> {
    const form = await readUploadForm(parts, this.storage, this.app.config.maxUploadBytes)
    try {
      const sniffed = await fileTypeFromBuffer(form.staged.head)
      if (kind === 'file') return { ...form, mimeType: form.declaredType ?? sniffed?.mime ?? 'application/octet-stream' }
      if (sniffed === undefined || !IMAGE_TYPES.has(sniffed.mime)) fail('UNSUPPORTED_IMAGE')
      return { ...form, mimeType: sniffed.mime }
    } catch (err) {
      await form.staged.discard()
      throw err
    }
  }

  /** Records an upload's row in the caller's transaction; its bytes are committed under the same id. */
  async record (tx: Db, ownerId: string, kind: FileKind, upload: ReceivedUpload): Promise<FileRow> {
    return insertFile(tx, { ownerId, kind, name: upload.name, size: upload.staged.size, mimeType: upload.mimeType, sha256: upload.staged.sha256 })
  }

  /** The file and its bytes, when `userId` may read it; 404 FILE_NOT_FOUND otherwise. */
  async open (userId: string, fileId: string): Promise<{ file: FileRow, content: () => Promise<StoredObject> }> {
    const file = await findReadableFile(this.app.db, fileId, userId)
    if (file === undefined) fail('FILE_NOT_FOUND')
    return {
      file,
      content: async () => (await this.storage.open(file.id)) ?? fail('FILE_NOT_FOUND')
    }
  }

  /** Stores an image as the user's avatar and points avatarUrl at it; the previous stored avatar goes. */
  async setAvatar (auth: { userId: string, sessionId: string }, parts: AsyncIterable<Multipart>): Promise<User> {
    const users = new UsersService(this.app)
    const previous = (await users.me(auth.userId)).avatarUrl
    const upload = await this.receive(parts, 'image')
    let file: FileRow
    try {
      file = await this.app.db.transaction(async (tx) => {
        const row = await this.record(tx, auth.userId, 'avatar', upload)
        await upload.staged.commit(row.id)
        return row
      })
    } catch (err) {
      await upload.staged.discard()
      throw err
    }
    let user: User
    try {
      user = await users.update(auth, { avatarUrl: fileUrl(file.id) })
    } catch (err) {
      await this.removeUnreferenced(this.app.db, [file.id]).then((ids) => this.removeBytes(ids))
      throw err
    }
    await this.releaseAvatar(previous, user.avatarUrl)
    return user
  }

  /** PATCH /users/me: a stored avatar that the change leaves unreferenced goes (row and bytes). */
  async updateProfile (auth: { userId: string, sessionId: string }, changes: ProfileChanges): Promise<User> {
    const users = new UsersService(this.app)
    const previous = changes.avatarUrl === undefined ? null : (await users.me(auth.userId)).avatarUrl
    const user = await users.update(auth, changes)
    await this.releaseAvatar(previous, user.avatarUrl)
    return user
  }

  private async releaseAvatar (previous: string | null, current: string | null): Promise<void> {
    if (previous === null || previous === current) return
    const previousId = AVATAR_URL.exec(previous)?.[1]
    if (previousId !== undefined) await this.removeBytes(await this.removeUnreferenced(this.app.db, [previousId]))
  }

  /** Deletes the rows of those files nothing refers to any more (in the caller's transaction); answers their ids. */
  async removeUnreferenced (tx: Db, ids: string[]): Promise<string[]> {
    return deleteUnreferencedFiles(tx, [...new Set(ids)])
  }

  /** Deletes stored bytes, after the transaction that deleted their rows committed. */
  async removeBytes (ids: string[]): Promise<void> {
    for (const id of ids) {
      try {
        await this.storage.remove(id)
      } catch (err) {
        this.app.log.error({ err, fileId: id }, 'could not delete stored file bytes')
      }
    }
  }
}
