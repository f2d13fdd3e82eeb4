// The event system of one instance: writes durable events with the change that causes them, pushes them to
// streams after commit (here directly, elsewhere through the bus), serves streams with resume, presence,
// session revocation, heartbeats and pruning.
import type { ServerResponse } from 'node:http'
import { and, eq, inArray } from 'drizzle-orm'
import fastJson from 'fast-json-stringify'
import type { FastifyBaseLogger } from 'fastify'
import type { Config } from '../../config.ts'
import type { Db } from '../../db/client.ts'
import { contacts } from '../../db/schema.ts'
import type { Bus, BusMessage } from '../../plugins/bus.ts'
import { Batcher } from '../../lib/batcher.ts'
import { MODEL_SCHEMAS } from '../../schemas/models.ts'
import { Hubs } from './hub.ts'
import { Presence } from './presence.ts'
import { appendEvents, latestEventId, oldestKeptEventId, pruneEventsBefore, readEventsAfterMany, type EventDraft, type EventRead, type StoredEvent } from './repository.ts'
import { DURABLE_EVENTS, type DurableEventData, type DurableEventType } from './schemas.ts'
import { EventStream } from './stream.ts'

export type Emit = <K extends DurableEventType>(userId: string, type: K, data: DurableEventData[K]) => void

const externalSchemas = Object.fromEntries(MODEL_SCHEMAS.map((schema) => [schema.$id!, schema]))
// Event data goes through its schema, like a response body: nothing outside the contract can leak into it.
const serializers = Object.fromEntries(Object.entries(DURABLE_EVENTS).map(([type, schema]) =>
  [type, fastJson(schema as never, { schema: externalSchemas as never })])) as unknown as Record<DurableEventType, (data: unknown) => string>

export interface OpenStreamOptions {
  userId: string
  sessionId: string
  res: ServerResponse
  /** Resume after this id, or start from now. */
  resumeAfter: number | undefined
  log: FastifyBaseLogger
}

export class EventsService {
  readonly hubs: Hubs
  readonly presence: Presence
  private timers: NodeJS.Timeout[] = []
  private stopped = false
  private pruning: Promise<unknown> = Promise.resolve()

  private readonly readEvents: (userId: string, afterId: number, limit: number) => Promise<StoredEvent[]>

  constructor (
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly config: Config,
    private readonly log: FastifyBaseLogger,
    /** Which of these sessions are live (the auth plugin's check). */
    private readonly liveSessions: (ids: string[]) => Promise<Map<string, string>>
  ) {
    // Reads of many users' events at once (one notice from another instance can name dozens) share a query.
    const reads = new Batcher<EventRead, StoredEvent[]>((batch) => readEventsAfterMany(db, batch), { maxBatch: 200, maxInFlight: 2 })
    this.readEvents = (userId, afterId, limit) => reads.submit({ userId, afterId, limit })
    this.hubs = new Hubs({
      latestEventId: async (userId) => (await latestEventId(db, userId)) ?? 0,
      readEventsAfter: this.readEvents
    }, log)
    this.presence = new Presence(db, bus, log, config.presenceRenewMs)
    bus.onMessage((message) => this.onBusMessage(message))
    bus.onReconnect(() => {
      log.warn('event bus reconnected: catching up every stream from the database')
      this.hubs.pokeAll()
      for (const userId of this.hubs.userIds()) this.checkSessions(userId).catch((err: unknown) => log.error({ err }, 'session check failed'))
    })
  }

  async start (): Promise<void> {
    await this.presence.start()
    const heartbeat = setInterval(() => {
      for (const stream of this.hubs.allStreams()) stream.heartbeat()
    }, this.config.sseHeartbeatMs)
    // Prune at start too: an instance restarted more often than the interval would otherwise never prune.
    this.schedulePrune()
    const prune = setInterval(() => this.schedulePrune(), this.config.pruneIntervalMs)
    for (const timer of [heartbeat, prune]) timer.unref()
    this.timers.push(heartbeat, prune)
  }

  /** Ends every stream (clients reconnect elsewhere and resume) and withdraws this instance's presence. */
  async stop (): Promise<void> {
    this.stopped = true
    for (const timer of this.timers) clearInterval(timer)
    for (const stream of [...this.hubs.allStreams()]) stream.close()
    await Promise.all([this.presence.stop(), this.pruning])
  }

  private schedulePrune (): void {
    this.pruning = this.pruning.then(() => this.prune()).catch((err: unknown) => this.log.error({ err }, 'event pruning failed'))
  }

  /**
   * Runs `work` in a transaction; the events it emits are stored in that same transaction and pushed to
   * streams only after it commits. A rolled-back change leaves no event, and a committed one always has its events.
   */
  async transaction<T> (work: (tx: Db, emit: Emit) => Promise<T>): Promise<T> {
    let stored: StoredEvent[] = []
    const result = await this.db.transaction(async (tx) => {
      const drafts: EventDraft[] = []
      const emit: Emit = (userId, type, data) => { drafts.push({ userId, type, data: serializers[type](data) }) }
      const value = await work(tx, emit)
      stored = await appendEvents(tx, drafts, (events) => events.length > 0 ? this.bus.notifyInTx(tx, { t: 'e', u: newestPerUser(events) }) : Promise.resolve())
      return value
    })
    this.hubs.offer(stored)
    return result
  }

  /** Serves one event stream until the client or the server ends it. */
  async openStream ({ userId, sessionId, res, resumeAfter, log }: OpenStreamOptions): Promise<void> {
    const stream = new EventStream({
      userId,
      sessionId,
      res,
      log,
      read: (afterId, limit) => this.readEvents(userId, afterId, limit),
      stallTimeoutMs: this.config.sseStallTimeoutMs
    })
    if (this.stopped || stream.closed) { // shutting down, or the client already left
      stream.close()
      return
    }
    // Attach before reading where the user's ids stand: whatever commits after that read is then either
    // pushed to the stream or read by its start(), never missed.
    this.hubs.attach(stream)
    let counted = false
    stream.onClosed = () => {
      this.hubs.detach(stream)
      if (counted) this.presence.streamClosed(userId).catch(() => {})
    }
    try {
      // Read from the database, not from the hub: a hub may not yet know of an event committed elsewhere
      // that the client has already seen on another instance. The session is checked again now that the
      // stream is attached: a logout committed since the request was authenticated found no stream to close.
      const [latest, live] = await Promise.all([latestEventId(this.db, userId), this.liveSessions([sessionId])])
      if (!live.has(sessionId)) {
        stream.revoke()
        return
      }
      const lastEventId = latest ?? 0
      let preamble = `retry: ${this.config.sseRetryMs}\n\nevent: ready\ndata: ${JSON.stringify({ userId, lastEventId: String(lastEventId) })}\n\n`
      let after = lastEventId
      if (resumeAfter !== undefined) {
        const reason = await this.resetReason(userId, resumeAfter, lastEventId)
        if (reason === undefined) after = resumeAfter
        else preamble += `event: reset\ndata: ${JSON.stringify({ reason })}\n\n`
      }
      if (stream.closed) return
      counted = true
      // Online before `ready`: once the client is told it is connected, its contacts see it online.
      await this.presence.streamOpened(userId)
      stream.start(preamble, after)
    } catch (err) {
      stream.close()
      throw err
    }
  }

  /** Why a resume from `afterId` cannot be served, if it cannot. */
  private async resetReason (userId: string, afterId: number, latest: number): Promise<'expired' | 'unknown' | undefined> {
    if (afterId > latest) return 'unknown'
    if (afterId === latest) return undefined
    const oldest = await oldestKeptEventId(this.db, userId)
    if (oldest === undefined || afterId < oldest - 1) return 'expired'
    return undefined
  }

  /** Tells every instance to close the streams of this user's sessions that are no longer live. */
  async sessionsRevoked (userId: string): Promise<void> {
    await this.bus.publish({ t: 'r', u: userId })
  }

  async prune (): Promise<number> {
    const before = new Date(Date.now() - this.config.eventsRetentionDays * 86400_000)
    const pruned = await pruneEventsBefore(this.db, before)
    if (pruned > 0) this.log.info({ pruned }, 'pruned old events')
    return pruned
  }

  private onBusMessage (message: BusMessage): void {
    const fail = (err: unknown) => this.log.error({ err, message }, 'event bus message failed')
    switch (message.t) {
      case 'e':
        if (message.u === '*') this.hubs.pokeAll()
        else for (const [userId, newestId] of message.u) this.hubs.poke(userId, newestId)
        break
      case 'p':
        this.sendPresence(message.u, message.o).catch(fail)
        break
      case 'r':
        this.checkSessions(message.u).catch(fail)
        break
    }
  }

  private async sendPresence (userId: string, online: boolean): Promise<void> {
    const local = this.hubs.userIds()
    if (local.length === 0) return
    const watchers = await this.db.select({ ownerId: contacts.ownerId }).from(contacts)
      .where(and(eq(contacts.contactId, userId), inArray(contacts.ownerId, local)))
    const data = JSON.stringify({ userId, online })
    for (const { ownerId } of watchers) {
      for (const stream of this.hubs.streamsOf(ownerId)) stream.sendTransient('presence', data)
    }
  }

  private async checkSessions (userId: string): Promise<void> {
    const streams = [...this.hubs.streamsOf(userId)]
    if (streams.length === 0) return
    const live = await this.liveSessions([...new Set(streams.map((stream) => stream.sessionId))])
    for (const stream of streams) if (!live.has(stream.sessionId)) stream.revoke()
  }

}

function newestPerUser (events: StoredEvent[]): Array<[string, number]> {
  const newest = new Map<string, number>()
  for (const event of events) newest.set(event.userId, Math.max(event.id, newest.get(event.userId) ?? 0))
  return [...newest]
}
