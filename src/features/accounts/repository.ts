// Erasing an account across the tables: what the foreign keys' cascades do not do by themselves (messages and
// their files, the peers' logged events about the user) and who must be told. Runs inside one transaction.
import { eq, or, sql } from 'drizzle-orm'
import { anyUuid } from '../../db/arrays.ts'
import type { Db } from '../../db/client.ts'
import { blocks, contacts, conversations, events, files, messages, users } from '../../db/schema.ts'

/** Locks the user's row for the rest of the transaction; false when the user is gone already. */
export async function lockUser (tx: Db, userId: string): Promise<boolean> {
  const rows = await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update')
  return rows.length > 0
}

/** Everyone who has the user as a contact, has a conversation with them, or has blocked them. */
export async function partiesOf (tx: Db, userId: string): Promise<string[]> {
  const rows = await tx.select({ id: contacts.ownerId }).from(contacts).where(eq(contacts.contactId, userId))
    .union(tx.select({ id: conversations.peerId }).from(conversations).where(eq(conversations.ownerId, userId)))
    .union(tx.select({ id: conversations.ownerId }).from(conversations).where(eq(conversations.peerId, userId)))
    .union(tx.select({ id: blocks.blockerId }).from(blocks).where(eq(blocks.blockedId, userId)))
  return rows.map((row) => row.id).filter((id) => id !== userId)
}

/** Ids of the files the user uploaded (sent files and images, avatars): they go with the user's row. */
export async function ownedFileIds (tx: Db, userId: string): Promise<string[]> {
  const rows = await tx.select({ id: files.id }).from(files).where(eq(files.ownerId, userId))
  return rows.map((row) => row.id)
}

/** Deletes every message the user sent or received, for both sides; answers the files they carried. */
export async function deleteMessagesOf (tx: Db, userId: string): Promise<string[]> {
  const rows = await tx.delete(messages).where(or(eq(messages.senderId, userId), eq(messages.receiverId, userId)))
    .returning({ fileId: messages.fileId })
  return rows.flatMap((row) => row.fileId === null ? [] : [row.fileId])
}

/**
 * Removes from the peers' replayable logs the events that carry the user's messages or profile (a resume never
 * replays them); the user's own events go with the user's row.
 */
export async function erasePeerEvents (tx: Db, userId: string, peers: string[]): Promise<void> {
  if (peers.length === 0) return
  await tx.delete(events).where(sql`${anyUuid(events.userId, peers)} and (
    (${events.type} like 'message.%' and ((${events.data})::jsonb ->> 'senderId' = ${userId} or (${events.data})::jsonb ->> 'receiverId' = ${userId}))
    or (${events.type} = 'contact.added' and (${events.data})::jsonb ->> 'contactId' = ${userId}))`)
}

/**
 * Deletes the user's row; the cascades take the rest: sessions, contacts and blocks both ways, both sides'
 * conversation rows, events, presence, and the file rows the user owns.
 */
export async function deleteUser (tx: Db, userId: string): Promise<void> {
  await tx.delete(users).where(eq(users.id, userId))
}
