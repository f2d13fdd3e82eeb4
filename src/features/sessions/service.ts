// Sessions (one per login, a device): creating, renewing, listing and revoking them, and the live check every
// authenticated request and stream relies on. Revocations are announced on the bus, so every instance closes
// the streams of a revoked session.
import type { FastifyBaseLogger } from 'fastify'
import type { Bus } from '../../bus/index.ts'
import type { Db } from '../../db/client.ts'
import { logLevel } from '../../db/errors.ts'
import { fail } from '../../errors.ts'
import { Batcher } from '../../lib/batcher.ts'
import type { SessionInfo } from '../../schemas/models.ts'
import {
  findLiveSessions, insertSession, type Lifetimes, listLiveSessions, pruneDeadSessions, renewSession, revokeOtherSessions, revokeSession,
  revokeSessionOf, type SessionRow, touchSessions
} from './repository.ts'

export type { Lifetimes, SessionRow } from './repository.ts'

/** lastUsedAt is written at most this often per session: a request costs no write of its own. */
export const LAST_USED_RESOLUTION_SECONDS = 60
/** Longest User-Agent kept (in code points); the rest is cut. */
export const USER_AGENT_MAX = 512

type Auth = { userId: string, sessionId: string }

export class SessionsService {
  // Concurrent requests share one query for their session checks (each request still sees the live state).
  private readonly checks: Batcher<string, Map<string, string>>
  // lastUsedAt writes of many sessions share one UPDATE.
  private readonly touches: Batcher<string, undefined>
  /** When this instance last wrote each session's lastUsedAt (ms); entries older than the resolution are swept. */
  private readonly touched = new Map<string, number>()
  private lastSweep = Date.now()
  private pruneTimer: NodeJS.Timeout | undefined
  private pruning: Promise<unknown> = Promise.resolve()

  constructor (
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly lifetimes: Lifetimes,
    private readonly log: FastifyBaseLogger
  ) {
    this.checks = new Batcher(async (ids) => {
      const live = await findLiveSessions(db, [...new Set(ids)])
      return ids.map(() => live)
    }, { maxBatch: 500, maxInFlight: 1 })
    this.touches = new Batcher(async (ids) => {
      await touchSessions(db, [...new Set(ids)], LAST_USED_RESOLUTION_SECONDS)
      return ids.map(() => undefined)
    }, { maxBatch: 500, maxInFlight: 1 })
  }

  /** A new session; `userAgent` is the login request's User-Agent header, kept to tell devices apart. */
  create (userId: string, userAgent?: string): Promise<SessionRow> {
    return insertSession(this.db, userId, this.lifetimes, boundUserAgent(userAgent))
  }

  /** Extends a live session by the TTL, never past its maximum age; undefined when it is no longer live. */
  renew (session: { sessionId: string, userId: string }): Promise<SessionRow | undefined> {
    return renewSession(this.db, session, this.lifetimes)
  }

  /** Deletes the rows of revoked and expired sessions (nothing can use them again), now and every `intervalMs`. */
  startPruning (intervalMs: number): void {
    const prune = () => {
      this.pruning = this.pruning.then(() => this.prune()).catch((err: unknown) => this.log[logLevel(err)]({ err }, 'session pruning failed'))
    }
    prune()
    this.pruneTimer = setInterval(prune, intervalMs)
    this.pruneTimer.unref()
  }

  /** Stops pruning; answers when a prune under way has ended, or after `waitMs` (a database that does not answer). */
  async stopPruning (waitMs: number): Promise<void> {
    clearInterval(this.pruneTimer)
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.pruning, new Promise<void>((resolve) => { timer = setTimeout(resolve, waitMs) })])
    clearTimeout(timer)
  }

  async prune (): Promise<number> {
    const pruned = await pruneDeadSessions(this.db)
    if (pruned > 0) this.log.info({ pruned }, 'pruned revoked and expired sessions')
    return pruned
  }

  /** Which of these sessions are live (not revoked, not expired), with their users. */
  readonly live = async (ids: string[]): Promise<Map<string, string>> => {
    const answers = await Promise.all(ids.map((id) => this.checks.submit(id)))
    return new Map(ids.flatMap((id, i) => answers[i]!.has(id) ? [[id, answers[i]!.get(id)!] as const] : []))
  }

  /** The live check of an authenticated request: as `live`, and records that the live ones were used. */
  readonly used = async (ids: string[]): Promise<Map<string, string>> => {
    const live = await this.live(ids)
    const now = Date.now()
    for (const id of live.keys()) {
      const last = this.touched.get(id)
      if (last !== undefined && now - last < LAST_USED_RESOLUTION_SECONDS * 1000) continue
      this.touched.set(id, now)
      // Best effort: a lost write only leaves lastUsedAt older, and must never fail the request.
      this.touches.submit(id).catch(() => {})
    }
    if (now - this.lastSweep > LAST_USED_RESOLUTION_SECONDS * 1000) this.sweep(now)
    return live
  }

  private sweep (now: number): void {
    this.lastSweep = now
    for (const [id, at] of this.touched) if (now - at >= LAST_USED_RESOLUTION_SECONDS * 1000) this.touched.delete(id)
  }

  /** The user's live sessions (devices), newest first, the caller's own marked current. */
  async list (auth: Auth): Promise<SessionInfo[]> {
    const rows = await listLiveSessions(this.db, auth.userId)
    return rows.map((row) => ({
      id: row.id,
      current: row.id === auth.sessionId,
      createdAt: row.createdAt.toISOString(),
      lastUsedAt: row.lastUsedAt.toISOString(),
      expiresAt: row.expiresAt.toISOString(),
      userAgent: row.userAgent
    }))
  }

  async revoke (auth: Auth): Promise<void> {
    await revokeSession(this.db, auth.sessionId)
    await this.announceRevoked(auth.userId)
  }

  /** Revokes one of the user's live sessions (the current one too: that is a logout); 404 for any other id. */
  async revokeOne (auth: Auth, sessionId: string): Promise<void> {
    if (!await revokeSessionOf(this.db, auth.userId, sessionId)) fail('SESSION_NOT_FOUND')
    await this.announceRevoked(auth.userId)
  }

  /** Revokes every session of the user but the one making the call. */
  async revokeAllButCurrent (auth: Auth): Promise<void> {
    await revokeOtherSessions(this.db, auth.userId, auth.sessionId)
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

function boundUserAgent (raw: string | undefined): string | null {
  // Control characters (NUL cannot be stored in text) serve no display purpose.
  const userAgent = raw === undefined ? undefined : Array.from(raw).filter((c) => c > '\u001f' && c !== '\u007f').join('')
  if (userAgent === undefined || userAgent === '') return null
  const points = Array.from(userAgent)
  return points.length <= USER_AGENT_MAX ? userAgent : points.slice(0, USER_AGENT_MAX).join('')
}
