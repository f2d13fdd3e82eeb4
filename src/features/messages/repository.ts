// Messages and conversations table access: sending, history pages, the conversation list, read marks, clearing.
import { and, desc, eq, gt, lt, lte, type Placeholder, sql } from 'drizzle-orm'
import { anyUuid, arrayPlaceholder } from '../../db/arrays.ts'
import { BuiltStatement } from '../../db/built-statement.ts'
import type { Db } from '../../db/client.ts'
import { preparedQuery } from '../../db/prepared-query.ts'
import { conversations, events, files, messageHidden, messages, users } from '../../db/schema.ts'
import { ERASED } from '../events/repository.ts'
import { MAX_LISTED, type Reaction } from '../../schemas/models.ts'

export type MessageKind = 'text' | 'file' | 'image'

export interface MessageRow {
  id: string
  seq: number
  senderId: string
  receiverId: string
  kind: MessageKind
  content: string | null
  createdAt: Date
  readAt: Date | null
  editedAt: Date | null
  /** SHA-256 (hex) of the content as first sent, once edited. */
  originalSha256: string | null
  reactions: Reaction[]
  fileId: string | null
  fileName: string | null
  fileSize: number | null
  fileMimeType: string | null
  fileSha256: string | null
  fileWidth: number | null
  fileHeight: number | null
  fileThumbnailSize: number | null
}

export const messageColumns = {
  id: messages.id,
  seq: messages.seq,
  senderId: messages.senderId,
  receiverId: messages.receiverId,
  kind: messages.kind,
  content: messages.content,
  createdAt: messages.createdAt,
  readAt: messages.readAt,
  editedAt: messages.editedAt,
  originalSha256: messages.originalSha256,
  reactions: messages.reactions,
  fileId: files.id,
  fileName: files.name,
  fileSize: files.size,
  fileMimeType: files.mimeType,
  fileSha256: files.sha256,
  fileWidth: files.width,
  fileHeight: files.height,
  fileThumbnailSize: files.thumbnailSize
}

/** The two users of a conversation in a fixed order: one index row range serves both directions. */
export function pairOf (a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a]
}

/** The message is not deleted for this user alone (DELETE ?for=me). */
export function notHiddenFor (userId: string | Placeholder) {
  return sql`not exists (select 1 from ${messageHidden} where ${messageHidden.messageId} = ${messages.id} and ${messageHidden.userId} = ${userId})`
}

function inPair (a: string, b: string) {
  const [lo, hi] = pairOf(a, b)
  return and(eq(messages.pairLo, lo), eq(messages.pairHi, hi))
}

/** inPair for a prepared query: the pair's ids in order, as placeholders `lo` and `hi`. */
function pairPlaceholders () {
  return and(eq(messages.pairLo, sql.placeholder('lo')), eq(messages.pairHi, sql.placeholder('hi')))
}

/**
 * Creates or locks both users' conversation rows, in a fixed order (no deadlock between the two directions).
 * Holding them while the message takes its seq means a conversation's messages commit in seq order.
 */
export async function lockConversations (tx: Db, a: string, b: string): Promise<void> {
  const [lo, hi] = pairOf(a, b)
  await tx.insert(conversations).values([{ ownerId: lo, peerId: hi }, { ownerId: hi, peerId: lo }])
    .onConflictDoUpdate({ target: [conversations.ownerId, conversations.peerId], set: { lastSeq: sql`${conversations.lastSeq}` } })
}

const messageById = preparedQuery((db) => db.select(messageColumns).from(messages).leftJoin(files, eq(files.id, messages.fileId))
  .where(eq(messages.id, sql.placeholder('id'))).prepare('message_by_id'))

export async function findMessage (db: Db, id: string): Promise<MessageRow | undefined> {
  const [row] = await messageById(db).execute({ id })
  return row
}

const seqInPair = preparedQuery((db) => db.select({ seq: messages.seq }).from(messages)
  .where(and(eq(messages.id, sql.placeholder('id')), pairPlaceholders())).prepare('seq_in_pair'))

/** The seq of a message of the conversation between a and b. */
export async function findSeqInPair (db: Db, id: string, a: string, b: string): Promise<number | undefined> {
  const [lo, hi] = pairOf(a, b)
  const [row] = await seqInPair(db).execute({ id, lo, hi })
  return row?.seq
}

const conversationSpan = preparedQuery((db) => db.select({ clearedSeq: conversations.clearedSeq, lastSeq: conversations.lastSeq }).from(conversations)
  .where(and(eq(conversations.ownerId, sql.placeholder('ownerId')), eq(conversations.peerId, sql.placeholder('peerId')))).prepare('conversation_span'))

/** The seqs of the owner's view of a conversation: what they cleared (up to clearedSeq) and its newest message (lastSeq). */
export async function findConversationSpan (db: Db, ownerId: string, peerId: string): Promise<{ clearedSeq: number, lastSeq: number } | undefined> {
  const [row] = await conversationSpan(db).execute({ ownerId, peerId })
  return row
}

export async function findClearedSeq (db: Db, ownerId: string, peerId: string): Promise<number> {
  return (await findConversationSpan(db, ownerId, peerId))?.clearedSeq ?? 0
}

const historyPage = preparedQuery((db) => db.select(messageColumns).from(messages).leftJoin(files, eq(files.id, messages.fileId))
  .where(and(pairPlaceholders(), gt(messages.seq, sql.placeholder('afterSeq')), lt(messages.seq, sql.placeholder('beforeSeq')), notHiddenFor(sql.placeholder('reader'))))
  .orderBy(desc(messages.seq))
  .limit(sql.placeholder('limit'))
  .prepare('history_page'))

/** Newest first: messages of the pair with afterSeq < seq (< beforeSeq) not deleted for `a`, by the (pair_lo, pair_hi, seq) index. */
export async function listHistory (db: Db, a: string, b: string, page: { afterSeq: number, beforeSeq: number | undefined, limit: number }): Promise<MessageRow[]> {
  const [lo, hi] = pairOf(a, b)
  return historyPage(db).execute({ lo, hi, reader: a, afterSeq: page.afterSeq, beforeSeq: page.beforeSeq ?? Number.MAX_SAFE_INTEGER, limit: page.limit })
}

export interface ConversationRow {
  peer: { id: string, username: string, avatarUrl: string | null }
  lastMessage: MessageRow | undefined
  unreadCount: number
}

const conversationList = preparedQuery((db) => {
  // Served by the partial index on unread messages (receiver_id, sender_id, seq).
  const unread = sql<number>`(select count(*) from ${messages} as u
    where u.receiver_id = ${sql.placeholder('ownerId')} and u.sender_id = ${conversations.peerId} and u.read_at is null and u.seq > ${conversations.clearedSeq}
      and not exists (select 1 from ${messageHidden} as h where h.message_id = u.id and h.user_id = ${sql.placeholder('ownerId')}))`
  // The newest message still visible to the owner (not cleared, not deleted for them): walks the pair index back from the top.
  const lastVisible = sql`(select v.seq from ${messages} as v
    where v.pair_lo = least(${conversations.ownerId}, ${conversations.peerId}) and v.pair_hi = greatest(${conversations.ownerId}, ${conversations.peerId})
      and v.seq > ${conversations.clearedSeq}
      and not exists (select 1 from ${messageHidden} as h where h.message_id = v.id and h.user_id = ${sql.placeholder('ownerId')})
    order by v.seq desc limit 1)`
  return db.select({ ...messageColumns, peerId: conversations.peerId, username: users.username, avatarUrl: users.avatarUrl, unreadCount: unread.mapWith(Number) })
    .from(conversations)
    .innerJoin(users, eq(users.id, conversations.peerId))
    .leftJoin(messages, and(gt(conversations.lastSeq, conversations.clearedSeq), eq(messages.seq, lastVisible)))
    .leftJoin(files, eq(files.id, messages.fileId))
    .where(and(eq(conversations.ownerId, sql.placeholder('ownerId')), gt(conversations.lastSeq, 0)))
    .orderBy(desc(conversations.lastSeq))
    .limit(MAX_LISTED)
    .prepare('conversation_list')
})

/** The owner's conversations by latest activity, with the last visible message and the unread count (deleted and cleared messages left out): one query. */
export async function listConversations (db: Db, ownerId: string): Promise<ConversationRow[]> {
  const rows = await conversationList(db).execute({ ownerId })
  return rows.map(({ peerId, username, avatarUrl, unreadCount, ...message }) => ({
    peer: { id: peerId, username, avatarUrl },
    lastMessage: message.id === null ? undefined : message as MessageRow,
    unreadCount
  }))
}

const markOneRead = new BuiltStatement<{ sender_id: string }>(sql`
  update ${messages} set read_at = ${sql.placeholder('at')}::timestamptz
  where ${messages.id} = ${sql.placeholder('id')}::uuid and ${messages.receiverId} = ${sql.placeholder('receiverId')}::uuid and ${messages.readAt} is null
  returning ${messages.senderId}`)

/** Marks one message read by its receiver, unless it already was. */
export async function markRead (tx: Db, messageId: string, receiverId: string, at: Date): Promise<{ senderId: string } | undefined> {
  const [row] = await markOneRead.rows(tx, { id: messageId, receiverId, at: at.toISOString() })
  return row === undefined ? undefined : { senderId: row.sender_id }
}

const markOldestRead = new BuiltStatement<{ id: string, seq: string | number }>(sql`
  update ${messages} set read_at = ${sql.placeholder('at')}::timestamptz
  where ${messages.id} in (
    select u.id from ${messages} as u
    where u.receiver_id = ${sql.placeholder('receiverId')}::uuid and u.sender_id = ${sql.placeholder('senderId')}::uuid and u.read_at is null
      and u.seq > coalesce((select ${conversations.clearedSeq} from ${conversations}
        where ${conversations.ownerId} = ${sql.placeholder('receiverId')}::uuid and ${conversations.peerId} = ${sql.placeholder('senderId')}::uuid), 0)
      and u.seq <= ${sql.placeholder('maxSeq')}::bigint
    order by u.seq
    limit ${sql.placeholder('limit')}::int)
  and ${messages.readAt} is null
  returning ${messages.id}, ${messages.seq}`)

/**
 * Marks read the unread messages from sender to receiver after the receiver's cleared seq and up to maxSeq, at
 * most `limit` of them (the oldest); answers their ids in order.
 */
export async function markReadUpTo (tx: Db, receiverId: string, senderId: string, range: { maxSeq: number, limit: number }, at: Date): Promise<string[]> {
  const rows = await markOldestRead.rows(tx, { receiverId, senderId, maxSeq: range.maxSeq, limit: range.limit, at: at.toISOString() })
  return rows.sort((x, y) => Number(x.seq) - Number(y.seq)).map((row) => row.id)
}

/** Hides everything up to the owner's latest message from the owner; answers the new cleared seq. */
export async function clearConversation (tx: Db, ownerId: string, peerId: string): Promise<number> {
  const [row] = await tx.insert(conversations).values({ ownerId, peerId })
    .onConflictDoUpdate({ target: [conversations.ownerId, conversations.peerId], set: { clearedSeq: sql`greatest(${conversations.clearedSeq}, ${conversations.lastSeq})` } })
    .returning({ clearedSeq: conversations.clearedSeq })
  return row!.clearedSeq
}

/**
 * Erases from the owner's replayable log the events that carry the conversation's messages up to `clearedSeq`
 * (the owner just cleared them): the rows stay as content-free placeholders, as eraseMessageEvents leaves them.
 */
export async function eraseClearedEvents (tx: Db, ownerId: string, peerId: string, clearedSeq: number): Promise<void> {
  const [lo, hi] = pairOf(ownerId, peerId)
  await tx.execute(sql`update ${events} set type = ${ERASED}, data = '{}', message_id = null
    from ${messages}
    where ${events.userId} = ${ownerId} and ${events.messageId} = ${messages.id}
      and ${messages.pairLo} = ${lo} and ${messages.pairHi} = ${hi} and ${messages.seq} <= ${clearedSeq}`)
}

/** Deletes the messages both users have cleared (nobody can see them any more); answers the files they carried. */
export async function deleteClearedByBoth (tx: Db, a: string, b: string): Promise<string[]> {
  const [both] = await tx.select({ seq: sql<number>`min(${conversations.clearedSeq})`.mapWith(Number), rows: sql<number>`count(*)`.mapWith(Number) })
    .from(conversations)
    .where(sql`(${conversations.ownerId}, ${conversations.peerId}) in ((${a}::uuid, ${b}::uuid), (${b}::uuid, ${a}::uuid))`)
  if (both === undefined || both.rows < 2 || both.seq <= 0) return []
  const deleted = await tx.delete(messages).where(and(inPair(a, b), lte(messages.seq, both.seq))).returning({ fileId: messages.fileId })
  return deleted.flatMap((row) => row.fileId === null ? [] : [row.fileId])
}

export async function findMessages (db: Db, ids: string[]): Promise<MessageRow[]> {
  if (ids.length === 0) return []
  return db.select(messageColumns).from(messages).leftJoin(files, eq(files.id, messages.fileId)).where(anyUuid(messages.id, ids))
}

/**
 * Inserts messages and moves both users' views of each conversation to its newest message, in one statement;
 * answers the messages stored (an id already taken is skipped). Conversation rows are written in (owner, peer)
 * order, as everywhere, so that concurrent writers lock them in the same order.
 */
const insertBatch = new BuiltStatement<{ id: string, seq: string | number, created_at: Date | string }>(sql`
  with inserted as (
    insert into ${messages} (id, sender_id, receiver_id, pair_lo, pair_hi, kind, content, file_id)
    select id, sender_id, receiver_id, pair_lo, pair_hi, kind, content, file_id
    from unnest(${arrayPlaceholder('ids', 'uuid')}, ${arrayPlaceholder('senders', 'uuid')}, ${arrayPlaceholder('receivers', 'uuid')},
      ${arrayPlaceholder('pairLos', 'uuid')}, ${arrayPlaceholder('pairHis', 'uuid')}, ${arrayPlaceholder('kinds', 'text')},
      ${arrayPlaceholder('contents', 'text')}, ${arrayPlaceholder('fileIds', 'uuid')})
      as batch(id, sender_id, receiver_id, pair_lo, pair_hi, kind, content, file_id)
    on conflict (id) do nothing
    returning id, seq, created_at, sender_id, receiver_id
  ), views as (
    insert into ${conversations} (owner_id, peer_id, last_seq)
    select owner_id, peer_id, max(seq) from (
      select sender_id as owner_id, receiver_id as peer_id, seq from inserted
      union all
      select receiver_id, sender_id, seq from inserted
    ) as sides
    group by owner_id, peer_id
    order by owner_id, peer_id
    on conflict (owner_id, peer_id) do update set last_seq = greatest(${conversations.lastSeq}, excluded.last_seq)
  )
  select id, seq, created_at from inserted`)

export async function insertMessages (tx: Db, rows: Array<{ id: string, senderId: string, receiverId: string, kind: MessageKind, content: string | null, fileId: string | null }>): Promise<Array<{ id: string, seq: number, createdAt: Date }>> {
  const pairs = rows.map((row) => pairOf(row.senderId, row.receiverId))
  const inserted = await insertBatch.rows(tx, {
    ids: rows.map((row) => row.id),
    senders: rows.map((row) => row.senderId),
    receivers: rows.map((row) => row.receiverId),
    pairLos: pairs.map((pair) => pair[0]),
    pairHis: pairs.map((pair) => pair[1]),
    kinds: rows.map((row) => row.kind),
    contents: rows.map((row) => row.content),
    fileIds: rows.map((row) => row.fileId)
  })
  return inserted.map((row) => ({ id: row.id, seq: Number(row.seq), createdAt: new Date(row.created_at) }))
}
