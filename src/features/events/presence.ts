// Who is online: a user with at least one open stream on a live instance. Each instance keeps a row per
// user it holds streams for, renews its own liveness, and expires the rows of instances that went silent.
import { and, eq, lt, sql } from 'drizzle-orm'
import type { FastifyBaseLogger } from 'fastify'
import { anyUuid, array } from '../../db/arrays.ts'
import type { Db } from '../../db/client.ts'
import { logLevel } from '../../db/errors.ts'
import { instances, presence } from '../../db/schema.ts'
import type { Bus } from '../../bus/index.ts'

export class Presence {
  private readonly local = new Map<string, number>()
  /** Per-user queue, so a quick open-then-close applies in order. */
  private readonly queues = new Map<string, Promise<void>>()
  /** Users whose last change could not be applied (the database was unreachable): applied again at the next renewal. */
  private readonly unsynced = new Set<string>()
  /** Users whose stream count changed since it was last written (other instances read it to bound streams per user). */
  private readonly recounted = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private renewal: Promise<void> = Promise.resolve()

  constructor (
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly log: FastifyBaseLogger,
    private readonly renewMs: number
  ) {}

  private get instanceId (): string {
    return this.bus.instanceId
  }

  /** Presence of instances silent this long is dropped. */
  private get expiry () {
    return sql`now() - make_interval(secs => ${(this.renewMs * 3) / 1000})`
  }

  async start (): Promise<void> {
    await this.db.insert(instances).values({ id: this.instanceId })
    this.timer = setInterval(() => {
      this.renewal = this.renewal.then(() => this.renewAndSweep()).catch((err: unknown) => this.log[logLevel(err)]({ err }, 'presence renewal failed'))
    }, this.renewMs)
    this.timer.unref()
  }

  async stop (): Promise<void> {
    clearInterval(this.timer)
    // A renewal still running would write our instance row back after we delete it.
    await this.renewal
    await Promise.allSettled(this.queues.values())
    const users = [...this.local.keys()]
    this.local.clear()
    try {
      await this.db.delete(instances).where(eq(instances.id, this.instanceId))
      await Promise.all(users.map((userId) => this.announceIfOffline(userId)))
    } catch (err) {
      // The database cannot be reached: other instances expire this one's presence by themselves.
      this.log.warn({ err }, 'could not withdraw this instance\'s presence; it expires within 3 renewal periods')
    }
  }

  streamOpened (userId: string): Promise<void> {
    const count = (this.local.get(userId) ?? 0) + 1
    this.local.set(userId, count)
    if (count > 1) {
      this.recounted.add(userId)
      return Promise.resolve()
    }
    return this.enqueue(userId, () => this.change(userId, true), true)
  }

  streamClosed (userId: string): Promise<void> {
    const count = (this.local.get(userId) ?? 0) - 1
    if (count > 0) {
      this.local.set(userId, count)
      this.recounted.add(userId)
      return Promise.resolve()
    }
    this.local.delete(userId)
    return this.enqueue(userId, () => this.change(userId, false), true)
  }

  /**
   * Streams the user holds on the other live instances, as they last wrote them (their counts are written with
   * each presence renewal, so they lag by up to one renewal period). 0 when this is the only instance.
   */
  async streamsElsewhere (userId: string): Promise<number> {
    if (this.bus.kind === 'in-process') return 0
    const [row] = await this.db.select({ streams: sql<number>`coalesce(sum(${presence.streams}), 0)`.mapWith(Number) })
      .from(presence)
      .innerJoin(instances, eq(instances.id, presence.instanceId))
      .where(and(eq(presence.userId, userId), sql`${presence.instanceId} <> ${this.instanceId}`, sql`${instances.lastSeen} > ${this.expiry}`))
    return row?.streams ?? 0
  }

  async onlineAmong (userIds: string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set()
    const rows = await this.db.selectDistinct({ userId: presence.userId })
      .from(presence)
      .innerJoin(instances, eq(instances.id, presence.instanceId))
      .where(and(anyUuid(presence.userId, userIds), sql`${instances.lastSeen} > ${this.expiry}`))
    return new Set(rows.map((row) => row.userId))
  }

  private enqueue (userId: string, task: () => Promise<void>, resync = false): Promise<void> {
    const previous = this.queues.get(userId) ?? Promise.resolve()
    const next = previous.then(task).catch((err: unknown) => {
      if (resync) this.unsynced.add(userId)
      this.log[logLevel(err)]({ err, userId }, 'presence update failed')
    })
    this.queues.set(userId, next)
    next.finally(() => { if (this.queues.get(userId) === next) this.queues.delete(userId) }).catch(() => {})
    return next
  }

  /** Applies this instance's change and announces it when the user's overall state flipped. */
  private async change (userId: string, opened: boolean): Promise<void> {
    const stillOpen = (this.local.get(userId) ?? 0) > 0
    if (stillOpen !== opened) return // superseded by a later open/close already queued
    const flipped = await this.db.transaction(async (tx) => {
      // Serializes presence changes of one user across instances, so exactly one of them announces a flip.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${userId}))`)
      const elsewhere = await tx.select({ userId: presence.userId }).from(presence)
        .innerJoin(instances, eq(instances.id, presence.instanceId))
        .where(and(eq(presence.userId, userId), sql`${presence.instanceId} <> ${this.instanceId}`, sql`${instances.lastSeen} > ${this.expiry}`))
        .limit(1)
      if (opened) {
        await tx.insert(presence).values({ userId, instanceId: this.instanceId, streams: this.local.get(userId) ?? 1 }).onConflictDoNothing()
      } else {
        await tx.delete(presence).where(and(eq(presence.userId, userId), eq(presence.instanceId, this.instanceId)))
      }
      return elsewhere.length === 0
    })
    if (flipped) await this.bus.publish({ t: 'p', u: userId, o: opened })
  }

  /** Writes the stream counts that changed since the last renewal, in one statement. */
  private async writeCounts (): Promise<void> {
    const users = [...this.recounted].filter((userId) => this.local.has(userId))
    this.recounted.clear()
    if (users.length === 0) return
    try {
      await this.db.execute(sql`update ${presence} set streams = counted.streams
        from unnest(${array(users, 'uuid')}, ${array(users.map((userId) => this.local.get(userId)!), 'bigint')}) as counted(user_id, streams)
        where ${presence.userId} = counted.user_id and ${presence.instanceId} = ${this.instanceId}`)
    } catch (err) {
      for (const userId of users) this.recounted.add(userId)
      throw err
    }
  }

  private async announceIfOffline (userId: string): Promise<void> {
    const online = await this.onlineAmong([userId])
    if (!online.has(userId)) await this.bus.publish({ t: 'p', u: userId, o: false })
  }

  private async renewAndSweep (): Promise<void> {
    const [renewed] = await this.db.insert(instances).values({ id: this.instanceId })
      .onConflictDoUpdate({ target: instances.id, set: { lastSeen: sql`now()` } })
      .returning({ inserted: sql<boolean>`xmax = 0` })
    // The database answers again: apply the changes it missed, as each user's state now stands.
    for (const userId of this.unsynced) {
      this.unsynced.delete(userId)
      this.enqueue(userId, () => this.change(userId, (this.local.get(userId) ?? 0) > 0), true).catch(() => {})
    }
    if (renewed?.inserted === true) {
      // Our row was gone: a long pause (GC, suspended VM) let another instance sweep us, and our presence
      // rows with it. Re-assert them through each user's queue, so a stream closing meanwhile is not undone.
      this.log.warn('this instance\'s presence was swept while it was alive: re-asserting it')
      for (const userId of this.local.keys()) {
        this.enqueue(userId, async () => {
          if (!this.local.has(userId)) return
          await this.db.insert(presence).values({ userId, instanceId: this.instanceId }).onConflictDoNothing()
          await this.bus.publish({ t: 'p', u: userId, o: true })
        }).catch(() => {})
      }
    }
    await this.writeCounts()
    const dead = (await this.db.select({ id: instances.id }).from(instances).where(lt(instances.lastSeen, this.expiry))).map((row) => row.id)
    if (dead.length === 0) return
    // Whoever deletes a row announces it: concurrent sweepers on other instances get disjoint rows.
    const orphaned = await this.db.delete(presence).where(anyUuid(presence.instanceId, dead)).returning({ userId: presence.userId })
    await this.db.delete(instances).where(anyUuid(instances.id, dead))
    for (const { userId } of orphaned) await this.announceIfOffline(userId)
  }
}
