// Storage of durable events: per-user ids taken from the user's counter row, replay reads, pruning.
import { and, eq, lt, min, sql } from 'drizzle-orm'
import { anyUuid, arrayPlaceholder } from '../../db/arrays.ts'
import { BuiltStatement } from '../../db/built-statement.ts'
import { type BoundQuery, type Db } from '../../db/client.ts'
import { events, users } from '../../db/schema.ts'

export interface EventDraft {
  userId: string
  type: string
  /** The data as one line of JSON. */
  data: string
  /** The message the event carries, if any: erasing the message erases the event (eraseMessageEvents). */
  messageId?: string | null
}

/**
 * The type of an erased event's row: it keeps its id (so a user's ids stay without holes, and a jump on
 * replay still means pruning) but carries nothing, and streams skip it.
 */
export const ERASED = 'erased'

export interface StoredEvent extends EventDraft {
  id: number
}

/** What stores a transaction's events: its statement, to run last in that transaction, and how to read the ids it answers. */
export interface EventAppend {
  statement: BoundQuery
  /** The events with their ids, from the statement's rows. */
  stored: (rows: unknown[]) => StoredEvent[]
}

// The data go as one JSON array of the events' own JSON texts: as a text[] every quote in them would be escaped.
const append = new BuiltStatement(sql`select append_events(${arrayPlaceholder('userIds', 'uuid')}, ${arrayPlaceholder('types', 'text')},
  ${sql.placeholder('data')}::json, ${arrayPlaceholder('messageIds', 'uuid')}) as ids`)

/**
 * Gives each draft the next id of its user and stores it, in one statement (the append_events function of the
 * migrations): the outbox sends it with the COMMIT. Taking an id locks the user's counter row to the commit, so a
 * reader never sees id N+1 before N.
 */
export function appendEvents (drafts: EventDraft[]): EventAppend {
  return {
    statement: append.bind({
      userIds: drafts.map((e) => e.userId),
      types: drafts.map((e) => e.type),
      data: `[${drafts.map((e) => e.data).join(',')}]`,
      messageIds: drafts.map((e) => e.messageId ?? null)
    }),
    stored: (rows) => {
      const ids = (rows[0] as { ids: Array<string | number> }).ids
      return drafts.map((draft, i) => ({ ...draft, id: Number(ids[i]) }))
    }
  }
}

/**
 * Erases from one user's replayable log every event that carries one of these messages (their content, or
 * the message itself): the rows stay as content-free placeholders of type ERASED that no stream sends.
 * For messages gone for that user: deleted for them or for everyone, or cleared.
 */
export async function eraseMessageEvents (tx: Db, userId: string, messageIds: string[]): Promise<number> {
  if (messageIds.length === 0) return 0
  const erased = await tx.update(events).set({ type: ERASED, data: '{}', messageId: null })
    .where(and(eq(events.userId, userId), anyUuid(events.messageId, messageIds)))
    .returning({ id: events.id })
  return erased.length
}

export interface EventRead {
  userId: string
  afterId: number
  limit: number
}

const readAfterMany = new BuiltStatement<{ i: string | number, user_id: string, id: string | number, type: string, data: string }>(sql`
  select r.i, e.user_id, e.id, e.type, e.data
  from unnest(${arrayPlaceholder('userIds', 'uuid')}, ${arrayPlaceholder('afterIds', 'bigint')}, ${arrayPlaceholder('limits', 'bigint')})
    with ordinality as r(user_id, after_id, max_rows, i)
  cross join lateral (
    select user_id, id, type, data from ${events}
    where user_id = r.user_id and id > r.after_id
    order by id limit r.max_rows
  ) as e
  order by r.i, e.id`)

/** Several users' readEventsAfter in one query: each read's events, oldest first, at most its limit. */
export async function readEventsAfterMany (db: Db, reads: EventRead[]): Promise<StoredEvent[][]> {
  const rows = await readAfterMany.rows(db, {
    userIds: reads.map((read) => read.userId),
    afterIds: reads.map((read) => read.afterId),
    limits: reads.map((read) => read.limit)
  })
  const results: StoredEvent[][] = reads.map(() => [])
  for (const row of rows) results[Number(row.i) - 1]!.push({ userId: row.user_id, id: Number(row.id), type: row.type, data: row.data })
  return results
}

export async function latestEventId (db: Db, userId: string): Promise<number | undefined> {
  const [row] = await db.select({ lastEventId: users.lastEventId }).from(users).where(eq(users.id, userId))
  return row?.lastEventId
}

/** latestEventId of many users in one query (users that do not exist are left out). */
export async function latestEventIds (db: Db, userIds: string[]): Promise<Map<string, number>> {
  if (userIds.length === 0) return new Map()
  const rows = await db.select({ id: users.id, lastEventId: users.lastEventId }).from(users).where(anyUuid(users.id, userIds))
  return new Map(rows.map((row) => [row.id, row.lastEventId]))
}

export async function oldestKeptEventId (db: Db, userId: string): Promise<number | undefined> {
  const [row] = await db.select({ id: min(events.id).mapWith(Number) }).from(events).where(eq(events.userId, userId))
  return row?.id ?? undefined
}

/** Deletes events created before `before`, in batches so that no statement holds many locks or rows. */
export async function pruneEventsBefore (db: Db, before: Date, batchSize = 5000): Promise<number> {
  let total = 0
  for (;;) {
    const batch = db.select({ userId: events.userId, id: events.id }).from(events).where(lt(events.createdAt, before)).limit(batchSize)
    const deleted = await db.delete(events).where(sql`(${events.userId}, ${events.id}) in (${batch})`).returning({ id: events.id })
    total += deleted.length
    if (deleted.length < batchSize) return total
  }
}
