// Table access for changes to a stored message: edits, reactions, deletion for one user or for everyone.
import { eq, type SQLWrapper, sql } from 'drizzle-orm'
import type { Db } from '../../db/client.ts'
import { conversations, files, messageHidden, messages } from '../../db/schema.ts'
import type { Reaction } from '../../schemas/models.ts'
import { type MessageRow, messageColumns } from './repository.ts'

export interface MessageForChange {
  row: MessageRow
  /** Whether each party still sees the message (not deleted for them, not cleared by them). */
  senderSees: boolean
  receiverSees: boolean
}

/** Whether `user` still sees the message: not deleted for them alone, and after the point they cleared. */
function seenBy (user: SQLWrapper, peer: SQLWrapper) {
  return sql<boolean>`(not exists (select 1 from ${messageHidden} as h where h.message_id = ${messages.id} and h.user_id = ${user})
    and ${messages.seq} > coalesce((select c.cleared_seq from ${conversations} as c where c.owner_id = ${user} and c.peer_id = ${peer}), 0))`
}

/**
 * The message, locked until the transaction ends (concurrent edits, reactions and deletions of one message
 * take turns, each seeing the previous one's result), and who still sees it.
 */
export async function lockMessage (tx: Db, id: string): Promise<MessageForChange | undefined> {
  const [found] = await tx.select({
    ...messageColumns,
    senderSees: seenBy(messages.senderId, messages.receiverId),
    receiverSees: seenBy(messages.receiverId, messages.senderId)
  }).from(messages).leftJoin(files, eq(files.id, messages.fileId)).where(eq(messages.id, id)).for('update', { of: messages })
  if (found === undefined) return undefined
  const { senderSees, receiverSees, ...row } = found
  return { row, senderSees, receiverSees }
}

export async function updateContent (tx: Db, id: string, change: { content: string, editedAt: Date, originalSha256: string }): Promise<void> {
  await tx.update(messages).set(change).where(eq(messages.id, id))
}

export async function updateReactions (tx: Db, id: string, reactions: Reaction[]): Promise<void> {
  await tx.update(messages).set({ reactions }).where(eq(messages.id, id))
}

export async function hideMessage (tx: Db, id: string, userId: string): Promise<void> {
  await tx.insert(messageHidden).values({ messageId: id, userId }).onConflictDoNothing()
}

/** Deletes the message row (its hidden marks go with it); answers the file it carried, if any. */
export async function deleteMessage (tx: Db, id: string): Promise<string | null> {
  const [row] = await tx.delete(messages).where(eq(messages.id, id)).returning({ fileId: messages.fileId })
  return row?.fileId ?? null
}
