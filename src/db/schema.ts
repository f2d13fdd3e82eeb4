// Every table of the service (drizzle-kit generates migrations/ from this file).
import { sql } from 'drizzle-orm'
import { bigint, bigserial, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core'

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()

export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  username: text('username').notNull(),
  email: text('email').notNull(),
  passwordHash: text('password_hash').notNull(),
  avatarUrl: text('avatar_url'),
  createdAt: createdAt(),
  // The user's event counter: taking the next id locks this row, so a user's events commit in id order.
  lastEventId: bigint('last_event_id', { mode: 'number' }).notNull().default(0)
}, (t) => [
  // text_pattern_ops also serves the case-insensitive prefix search of GET /users.
  uniqueIndex('users_username_lower_key').on(sql`lower(${t.username}) text_pattern_ops`),
  uniqueIndex('users_email_lower_key').on(sql`lower(${t.email})`)
])

export const sessions = pgTable('sessions', {
  id: uuid('id').primaryKey().defaultRandom(),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  createdAt: createdAt(),
  expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  // Written at most once a minute per session (SessionsService), not on every request.
  lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  /** The User-Agent of the login that created the session (bounded), to tell devices apart. */
  userAgent: text('user_agent')
}, (t) => [index('sessions_user_id_idx').on(t.userId)])

export const contacts = pgTable('contacts', {
  ownerId: uuid('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  contactId: uuid('contact_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  addedAt: timestamp('added_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
}, (t) => [
  primaryKey({ columns: [t.ownerId, t.contactId] }),
  index('contacts_contact_id_idx').on(t.contactId)
])

/** Who blocked whom: while a row exists either way, the two users cannot reach each other. */
export const blocks = pgTable('blocks', {
  blockerId: uuid('blocker_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  blockedId: uuid('blocked_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  createdAt: createdAt()
}, (t) => [
  primaryKey({ columns: [t.blockerId, t.blockedId] }),
  index('blocks_blocked_id_idx').on(t.blockedId)
])

/** Durable events: each user's stream, replayable by id for EVENTS_RETENTION_DAYS. */
export const events = pgTable('events', {
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  id: bigint('id', { mode: 'number' }).notNull(),
  type: text('type').notNull(),
  // The event's data as the exact JSON line sent on the stream.
  data: text('data').notNull(),
  // The message an event carries (message.created, message.updated), so that erasing a message finds its events.
  messageId: uuid('message_id'),
  createdAt: createdAt()
}, (t) => [
  primaryKey({ columns: [t.userId, t.id] }),
  index('events_created_at_idx').on(t.createdAt),
  index('events_message_id_idx').on(t.messageId).where(sql`${t.messageId} is not null`)
])

/** One row per server instance, renewed while it lives; presence of a silent instance expires. */
export const instances = pgTable('instances', {
  id: uuid('id').primaryKey(),
  lastSeen: timestamp('last_seen', { withTimezone: true, mode: 'date' }).notNull().defaultNow()
})

/** A user with at least one open stream on an instance. */
export const presence = pgTable('presence', {
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  instanceId: uuid('instance_id').notNull().references(() => instances.id, { onDelete: 'cascade' }),
  streams: integer('streams').notNull().default(1)
}, (t) => [primaryKey({ columns: [t.userId, t.instanceId] })])

/**
 * Per-minute budgets shared by the instances on one PostgreSQL (rate limits): a key's count in its current window
 * (from its first hit, in ms since the epoch), to which each instance adds what it counted every second.
 */
export const rateCounters = pgTable('rate_counters', {
  key: text('key').primaryKey(),
  windowStart: bigint('window_start', { mode: 'number' }).notNull(),
  count: integer('count').notNull()
})

export const files = pgTable('files', {
  id: uuid('id').primaryKey().defaultRandom(),
  ownerId: uuid('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  kind: text('kind', { enum: ['file', 'image', 'avatar'] }).notNull(),
  name: text('name').notNull(),
  size: bigint('size', { mode: 'number' }).notNull(),
  mimeType: text('mime_type').notNull(),
  sha256: text('sha256').notNull(),
  // Images and avatars: their stored size in pixels; images: the size in bytes of the thumbnail stored beside them.
  width: integer('width'),
  height: integer('height'),
  thumbnailSize: integer('thumbnail_size'),
  createdAt: createdAt()
})

export const messages = pgTable('messages', {
  id: uuid('id').primaryKey(),
  // Global order of messages: history pages by it, newest first.
  seq: bigserial('seq', { mode: 'number' }).notNull().unique(),
  senderId: uuid('sender_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  receiverId: uuid('receiver_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  // The pair in a fixed order, so one index serves a conversation in both directions.
  pairLo: uuid('pair_lo').notNull(),
  pairHi: uuid('pair_hi').notNull(),
  kind: text('kind', { enum: ['text', 'file', 'image'] }).notNull(),
  content: text('content'),
  fileId: uuid('file_id').references(() => files.id),
  createdAt: createdAt(),
  readAt: timestamp('read_at', { withTimezone: true, mode: 'date' }),
  editedAt: timestamp('edited_at', { withTimezone: true, mode: 'date' }),
  // SHA-256 of the content as first sent, kept once edited: a retry of the first send is still recognised.
  originalSha256: text('original_sha256'),
  // [{ emoji, userIds }] in order of first use: read with the message, no join.
  reactions: jsonb('reactions').$type<Array<{ emoji: string, userIds: string[] }>>().notNull().default(sql`'[]'::jsonb`)
}, (t) => [
  index('messages_pair_seq_idx').on(t.pairLo, t.pairHi, t.seq),
  // Substring search in any script (trigrams of CJK text are hashed); needs the pg_trgm extension.
  index('messages_content_trgm_idx').using('gin', sql`${t.content} gin_trgm_ops`),
  index('messages_unread_idx').on(t.receiverId, t.senderId, t.seq).where(sql`${t.readAt} is null`),
  index('messages_file_id_idx').on(t.fileId).where(sql`${t.fileId} is not null`)
])

/** Messages deleted for one user only (DELETE /messages/{id}?for=me): hidden from that user's views. */
export const messageHidden = pgTable('message_hidden', {
  messageId: uuid('message_id').notNull().references(() => messages.id, { onDelete: 'cascade' }),
  userId: uuid('user_id').notNull().references(() => users.id, { onDelete: 'cascade' })
}, (t) => [primaryKey({ columns: [t.messageId, t.userId] })])

/** Each user's view of a conversation: latest activity, and up to which message they cleared it. */
export const conversations = pgTable('conversations', {
  ownerId: uuid('owner_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  peerId: uuid('peer_id').notNull().references(() => users.id, { onDelete: 'cascade' }),
  lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
  clearedSeq: bigint('cleared_seq', { mode: 'number' }).notNull().default(0)
}, (t) => [
  primaryKey({ columns: [t.ownerId, t.peerId] }),
  index('conversations_owner_last_idx').on(t.ownerId, t.lastSeq)
])
