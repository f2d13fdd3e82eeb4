// Files table access: stored uploads, who may read them, and removing those nothing refers to any more.
import { and, eq, or, sql } from 'drizzle-orm'
import { anyUuid } from '../../db/arrays.ts'
import type { Db } from '../../db/client.ts'
import { preparedQuery } from '../../db/prepared-query.ts'
import { files, messages, users } from '../../db/schema.ts'

export type FileKind = 'file' | 'image' | 'avatar'

export interface FileRow {
  id: string
  ownerId: string
  kind: FileKind
  name: string
  size: number
  mimeType: string
  sha256: string
  /** Images and avatars only. */
  width: number | null
  height: number | null
  /** Bytes of the stored thumbnail; null when there is none (files, avatars). */
  thumbnailSize: number | null
}

export const fileColumns = {
  id: files.id,
  ownerId: files.ownerId,
  kind: files.kind,
  name: files.name,
  size: files.size,
  mimeType: files.mimeType,
  sha256: files.sha256,
  width: files.width,
  height: files.height,
  thumbnailSize: files.thumbnailSize
}

export async function insertFile (db: Db, values: Array<Omit<FileRow, 'id'>>): Promise<FileRow[]> {
  if (values.length === 0) return []
  return db.insert(files).values(values).returning(fileColumns)
}

const readableFile = preparedQuery((db) => {
  const user = sql.placeholder('userId')
  const carriedToUser = db.select({ one: sql`1` }).from(messages)
    .where(and(eq(messages.fileId, files.id), or(eq(messages.senderId, user), eq(messages.receiverId, user))))
  return db.select(fileColumns).from(files)
    .where(and(eq(files.id, sql.placeholder('fileId')), or(eq(files.kind, 'avatar'), sql`exists ${carriedToUser}`)))
    .prepare('readable_file')
})

/** The file, when `userId` may read it: avatars any signed-in user, other files the two parties of the message carrying it. */
export async function findReadableFile (db: Db, fileId: string, userId: string): Promise<FileRow | undefined> {
  const [row] = await readableFile(db).execute({ fileId, userId })
  return row
}

const fileById = preparedQuery((db) => db.select(fileColumns).from(files).where(eq(files.id, sql.placeholder('fileId'))).prepare('file_by_id'))

export async function findFile (db: Db, fileId: string): Promise<FileRow | undefined> {
  const [row] = await fileById(db).execute({ fileId })
  return row
}

/** Deletes those of `ids` that no message carries and no user has as avatar; answers the ids deleted. */
export async function deleteUnreferencedFiles (db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return []
  const carried = db.select({ one: sql`1` }).from(messages).where(eq(messages.fileId, files.id))
  const avatar = db.select({ one: sql`1` }).from(users).where(eq(users.avatarUrl, sql`'/files/' || ${files.id}`))
  const rows = await db.delete(files)
    .where(and(anyUuid(files.id, ids), sql`not exists ${carried}`, sql`not exists ${avatar}`))
    .returning({ id: files.id })
  return rows.map((row) => row.id)
}

/** The bytes a user's stored files take (files and images sent, avatar). */
export async function storedBytes (db: Db, ownerId: string): Promise<number> {
  const [row] = await db.select({ total: sql<number>`coalesce(sum(${files.size}), 0)`.mapWith(Number) }).from(files).where(eq(files.ownerId, ownerId))
  return row?.total ?? 0
}
