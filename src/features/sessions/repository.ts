// Sessions table access: a session is live while not revoked and not expired.
import { and, eq, gt, isNull, ne, sql } from 'drizzle-orm'
import { anyUuid } from '../../db/arrays.ts'
import type { Db } from '../../db/client.ts'
import { sessions } from '../../db/schema.ts'

export interface SessionRow {
  id: string
  userId: string
  expiresAt: Date
}

export async function insertSession (db: Db, userId: string, ttlSeconds: number): Promise<SessionRow> {
  const [row] = await db.insert(sessions)
    .values({ userId, expiresAt: sql`now() + make_interval(secs => ${ttlSeconds})` })
    .returning({ id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt })
  return row!
}

/** Extends a live session; undefined when it is no longer live. */
export async function renewSession (db: Db, session: { sessionId: string, userId: string }, ttlSeconds: number): Promise<SessionRow | undefined> {
  const [row] = await db.update(sessions)
    .set({ expiresAt: sql`now() + make_interval(secs => ${ttlSeconds})` })
    .where(and(eq(sessions.id, session.sessionId), eq(sessions.userId, session.userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`)))
    .returning({ id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt })
  return row
}

export async function revokeSession (db: Db, id: string): Promise<void> {
  await db.update(sessions).set({ revokedAt: sql`now()` }).where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))
}

export async function revokeOtherSessions (db: Db, userId: string, keepId: string): Promise<void> {
  await db.update(sessions).set({ revokedAt: sql`now()` })
    .where(and(eq(sessions.userId, userId), ne(sessions.id, keepId), isNull(sessions.revokedAt)))
}

/** Those of `ids` that are live, with their users. */
export async function findLiveSessions (db: Db, ids: string[]): Promise<Map<string, string>> {
  const rows = await db.select({ id: sessions.id, userId: sessions.userId }).from(sessions).where(and(
    anyUuid(sessions.id, ids),
    isNull(sessions.revokedAt),
    gt(sessions.expiresAt, sql`now()`)
  ))
  return new Map(rows.map((row) => [row.id, row.userId]))
}
