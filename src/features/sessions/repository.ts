// Sessions table access: a session is live while not revoked and not expired.
import { and, desc, eq, gt, isNull, lt, ne, sql } from 'drizzle-orm'
import { anyUuid, arrayPlaceholder } from '../../db/arrays.ts'
import { BuiltStatement } from '../../db/built-statement.ts'
import { type Db, queryRows } from '../../db/client.ts'
import { sessions } from '../../db/schema.ts'
import { MAX_LISTED } from '../../schemas/models.ts'

export interface SessionRow {
  id: string
  userId: string
  expiresAt: Date
}

export interface DeviceRow extends SessionRow {
  createdAt: Date
  lastUsedAt: Date
  userAgent: string | null
}

const live = () => and(isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`))

/** How long sessions live: each login or renewal gives `ttlSeconds`, never past `maxAgeSeconds` from the login. */
export interface Lifetimes {
  ttlSeconds: number
  maxAgeSeconds: number
}

export async function insertSession (db: Db, userId: string, lifetimes: Lifetimes, userAgent: string | null): Promise<SessionRow> {
  const [row] = await db.insert(sessions)
    .values({ userId, userAgent, expiresAt: sql`now() + make_interval(secs => ${Math.min(lifetimes.ttlSeconds, lifetimes.maxAgeSeconds)})` })
    .returning({ id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt })
  return row!
}

/** Extends a live session (a renewal is a use), up to its maximum age; undefined when it is no longer live. */
export async function renewSession (db: Db, session: { sessionId: string, userId: string }, lifetimes: Lifetimes): Promise<SessionRow | undefined> {
  const [row] = await db.update(sessions)
    .set({
      expiresAt: sql`least(now() + make_interval(secs => ${lifetimes.ttlSeconds}), ${sessions.createdAt} + make_interval(secs => ${lifetimes.maxAgeSeconds}))`,
      lastUsedAt: sql`now()`
    })
    .where(and(eq(sessions.id, session.sessionId), eq(sessions.userId, session.userId), live(),
      gt(sql`${sessions.createdAt} + make_interval(secs => ${lifetimes.maxAgeSeconds})`, sql`now()`)))
    .returning({ id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt })
  return row
}

export async function revokeSession (db: Db, id: string): Promise<void> {
  await db.update(sessions).set({ revokedAt: sql`now()` }).where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
}

/** Revokes one live session of the user; false when the user has no such live session. */
export async function revokeSessionOf (db: Db, userId: string, id: string): Promise<boolean> {
  const rows = await db.update(sessions).set({ revokedAt: sql`now()` })
    .where(and(eq(sessions.id, id), eq(sessions.userId, userId), live()))
    .returning({ id: sessions.id })
  return rows.length > 0
}

export async function revokeOtherSessions (db: Db, userId: string, keepId: string): Promise<void> {
  await db.update(sessions).set({ revokedAt: sql`now()` })
    .where(and(eq(sessions.userId, userId), ne(sessions.id, keepId), isNull(sessions.revokedAt)))
}

/** The user's live sessions, newest first. */
export async function listLiveSessions (db: Db, userId: string): Promise<DeviceRow[]> {
  return db.select({
    id: sessions.id,
    userId: sessions.userId,
    createdAt: sessions.createdAt,
    lastUsedAt: sessions.lastUsedAt,
    expiresAt: sessions.expiresAt,
    userAgent: sessions.userAgent
  }).from(sessions)
    .where(and(eq(sessions.userId, userId), live()))
    .orderBy(desc(sessions.createdAt), desc(sessions.id))
    .limit(MAX_LISTED)
}

/** Moves lastUsedAt of these sessions to now, skipping those written within the last `minSeconds` (by any instance). */
export async function touchSessions (db: Db, ids: string[], minSeconds: number): Promise<void> {
  await db.update(sessions).set({ lastUsedAt: sql`now()` })
    .where(and(anyUuid(sessions.id, ids), lt(sessions.lastUsedAt, sql`now() - make_interval(secs => ${minSeconds})`)))
}

/** Those of `ids` that are live, with their users. */
const liveAmong = new BuiltStatement<{ id: string, user_id: string }>(sql`select ${sessions.id}, ${sessions.userId} from ${sessions}
  where ${sessions.id} = any(${arrayPlaceholder('ids', 'uuid')}) and ${live()}`)

export async function findLiveSessions (db: Db, ids: string[]): Promise<Map<string, string>> {
  const rows = await liveAmong.rows(db, { ids })
  return new Map(rows.map((row) => [row.id, row.user_id]))
}

/** Deletes sessions that can never be used again (revoked or expired), at most `batchSize` rows a statement; answers how many. */
export async function pruneDeadSessions (db: Db, batchSize = 5000): Promise<number> {
  let total = 0
  for (;;) {
    const rows = await queryRows<{ id: string }>(db, sql`delete from ${sessions} where ${sessions.id} in (
      select ${sessions.id} from ${sessions} where ${sessions.revokedAt} is not null or ${sessions.expiresAt} <= now() limit ${batchSize}
    ) returning ${sessions.id}`)
    total += rows.length
    if (rows.length < batchSize) return total
  }
}
