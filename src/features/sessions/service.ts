// Sessions (one per login, a device): creating, renewing and revoking them, and the live check every
// authenticated request and stream relies on. Revocations are announced on the bus, so every instance closes
// the streams of a revoked session.
import type { Bus } from '../../bus/index.ts'
import type { Db } from '../../db/client.ts'
import { Batcher } from '../../lib/batcher.ts'
import { findLiveSessions, insertSession, renewSession, revokeOtherSessions, revokeSession, type SessionRow } from './repository.ts'

export type { SessionRow } from './repository.ts'

export class SessionsService {
  // Concurrent requests share one query for their session checks (each request still sees the live state).
  private readonly checks: Batcher<string, Map<string, string>>

  constructor (
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly ttlSeconds: number
  ) {
    this.checks = new Batcher(async (ids) => {
      const live = await findLiveSessions(db, [...new Set(ids)])
      return ids.map(() => live)
    }, { maxBatch: 500, maxInFlight: 1 })
  }

  create (userId: string): Promise<SessionRow> {
    return insertSession(this.db, userId, this.ttlSeconds)
  }

  /** Extends a live session; undefined when it is no longer live. */
  renew (session: { sessionId: string, userId: string }): Promise<SessionRow | undefined> {
    return renewSession(this.db, session, this.ttlSeconds)
  }

  /** Which of these sessions are live (not revoked, not expired), with their users. */
  readonly live = async (ids: string[]): Promise<Map<string, string>> => {
    const answers = await Promise.all(ids.map((id) => this.checks.submit(id)))
    return new Map(ids.flatMap((id, i) => answers[i]!.has(id) ? [[id, answers[i]!.get(id)!] as const] : []))
  }

  async revoke (auth: { userId: string, sessionId: string }): Promise<void> {
    await revokeSession(this.db, auth.sessionId)
    await this.announceRevoked(auth.userId)
  }

  /** Revokes every session of the user but `keepId`, in the caller's transaction; announce it after the commit. */
  revokeOthers (tx: Db, userId: string, keepId: string): Promise<void> {
    return revokeOtherSessions(tx, userId, keepId)
  }

  /** Tells every instance to close the streams of this user's sessions that are no longer live. */
  async announceRevoked (userId: string): Promise<void> {
    await this.bus.publish({ t: 'r', u: userId })
  }
}
