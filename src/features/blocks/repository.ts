// Blocks table access: who blocked whom. A block works in both directions; only the blocker can lift it.
import { and, asc, eq, or, sql } from 'drizzle-orm'
import { anyUuid } from '../../db/arrays.ts'
import type { Db } from '../../db/client.ts'
import { blocks, contacts, users } from '../../db/schema.ts'
import { MAX_LISTED } from '../../schemas/models.ts'

export interface BlockedRow {
  id: string
  username: string
  avatarUrl: string | null
}

/** The users `blockerId` has blocked, by username. */
export async function listBlocked (db: Db, blockerId: string): Promise<BlockedRow[]> {
  return db.select({ id: users.id, username: users.username, avatarUrl: users.avatarUrl })
    .from(blocks)
    .innerJoin(users, eq(users.id, blocks.blockedId))
    .where(eq(blocks.blockerId, blockerId))
    .orderBy(asc(sql`lower(${users.username})`), asc(users.username))
    .limit(MAX_LISTED)
}

export async function userExists (db: Db, id: string): Promise<boolean> {
  const rows = await db.select({ id: users.id }).from(users).where(eq(users.id, id))
  return rows.length > 0
}

/** True when the block is new. */
export async function insertBlock (db: Db, blockerId: string, blockedId: string): Promise<boolean> {
  const rows = await db.insert(blocks).values({ blockerId, blockedId }).onConflictDoNothing().returning({ blockedId: blocks.blockedId })
  return rows.length > 0
}

/** True when there was a block to lift. */
export async function deleteBlock (db: Db, blockerId: string, blockedId: string): Promise<boolean> {
  const rows = await db.delete(blocks).where(and(eq(blocks.blockerId, blockerId), eq(blocks.blockedId, blockedId))).returning({ blockedId: blocks.blockedId })
  return rows.length > 0
}

/** Those of `others` between whom and `userId` there is a block, either way. */
export async function blockedEitherAmong (db: Db, userId: string, others: string[]): Promise<Set<string>> {
  if (others.length === 0) return new Set()
  const rows = await db.select({ blockerId: blocks.blockerId, blockedId: blocks.blockedId }).from(blocks).where(or(
    and(eq(blocks.blockerId, userId), anyUuid(blocks.blockedId, others)),
    and(eq(blocks.blockedId, userId), anyUuid(blocks.blockerId, others))
  ))
  return new Set(rows.map((row) => row.blockerId === userId ? row.blockedId : row.blockerId))
}

/** Which of the two users has the other as a contact (blocks aside): they are the ones who watch the other's presence. */
export async function contactOwnersBetween (db: Db, a: string, b: string): Promise<string[]> {
  const rows = await db.select({ ownerId: contacts.ownerId }).from(contacts).where(or(
    and(eq(contacts.ownerId, a), eq(contacts.contactId, b)),
    and(eq(contacts.ownerId, b), eq(contacts.contactId, a))
  ))
  return rows.map((row) => row.ownerId)
}
