// The event streams of one instance: serves streams with resume, forwards what other instances announce,
// presence changes to the contacts who watch them, session revocation, heartbeats and pruning.
import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import type { Bus, BusMessage } from '../../bus/index.ts'
import type { Config } from '../../config.ts'
import { logLevel } from '../../db/errors.ts'
import type { Hubs } from './hub.ts'
import type { EventLog } from './log.ts'
import type { Presence } from './presence.ts'
import { EventStream } from './stream.ts'

/** How long stopping waits for the database (withdrawing presence, a prune under way). */
const STOP_DATABASE_MS = 3000

export type EventsSettings = Pick<Config, 'sseHeartbeatMs' | 'sseRetryMs' | 'sseStallTimeoutMs' | 'pruneIntervalMs' | 'eventsRetentionDays' | 'busSweepMs' | 'streamSessionCheckMs'>

export interface EventsDependencies {
  eventLog: EventLog
  hubs: Hubs
  presence: Presence
  bus: Bus
  settings: EventsSettings
  log: FastifyBaseLogger
  /** Which of these sessions are live (not revoked, not expired), with their users. */
  liveSessions: (ids: string[]) => Promise<Map<string, string>>
  /** Which of these users have `userId` as a contact (they are told of its presence). */
  watchersAmong: (userId: string, candidates: string[]) => Promise<string[]>
  /** Rewrites a stored event's data as it is sent (the files feature signs the links it carries). */
  present?: (data: string) => string
}

export interface OpenStreamOptions {
  userId: string
  sessionId: string
  res: ServerResponse
  /** Resume after this id, or start from now. */
  resumeAfter: number | undefined
  log: FastifyBaseLogger
}

export class EventsService {
  private readonly hubs: Hubs
  private readonly presence: Presence
  private readonly eventLog: EventLog
  private readonly settings: EventsSettings
  private readonly log: FastifyBaseLogger
  private readonly liveSessions: EventsDependencies['liveSessions']
  private readonly watchersAmong: EventsDependencies['watchersAmong']
  private readonly bus: Bus
  private readonly present: EventsDependencies['present']
  private timers: NodeJS.Timeout[] = []
  private stopped = false
  private pruning: Promise<unknown> = Promise.resolve()

  constructor (deps: EventsDependencies) {
    ({ hubs: this.hubs, presence: this.presence, eventLog: this.eventLog, settings: this.settings, log: this.log, liveSessions: this.liveSessions, watchersAmong: this.watchersAmong, bus: this.bus, present: this.present } = deps)
    deps.bus.onMessage((message) => this.onBusMessage(message))
    deps.bus.onReconnect(() => {
      this.log.warn('event bus reconnected: catching up every stream from the database')
      this.hubs.pokeAll()
      for (const userId of this.hubs.userIds()) this.checkSessions(userId).catch((err: unknown) => this.log[logLevel(err)]({ err }, 'session check failed'))
    })
  }

  start (): void {
    const heartbeat = setInterval(() => {
      for (const stream of this.hubs.allStreams()) stream.heartbeat()
    }, this.settings.sseHeartbeatMs)
    // Prune at start too: an instance restarted more often than the interval would otherwise never prune.
    this.schedulePrune()
    const prune = setInterval(() => this.schedulePrune(), this.settings.pruneIntervalMs)
    // A session that expires announces nothing (a revocation does): its streams end at the next check, which
    // also ends those whose revocation notice was lost.
    const sessionCheck = setInterval(() => {
      this.endDeadSessions([...this.hubs.allStreams()]).catch((err: unknown) => this.log[logLevel(err)]({ err }, 'stream session check failed'))
    }, this.settings.streamSessionCheckMs)
    for (const timer of [heartbeat, prune, sessionCheck]) timer.unref()
    this.timers.push(heartbeat, prune, sessionCheck)
    if (this.bus.sendsAfterCommit) {
      // Notices sent after the commit can be lost (the sender died in between, the bus was down): the
      // events table is the source of truth, so each instance re-reads where its users' ids stand.
      const sweep = setInterval(() => {
        this.hubs.sweep().catch((err: unknown) => this.log.error({ err }, 'event sweep failed'))
      }, this.settings.busSweepMs)
      sweep.unref()
      this.timers.push(sweep)
    }
  }

  /** Ends every stream (clients reconnect elsewhere and resume) and withdraws this instance's presence. */
  async stop (): Promise<void> {
    this.stopped = true
    for (const timer of this.timers) clearInterval(timer)
    const streams = [...this.hubs.allStreams()]
    for (const stream of streams) stream.close()
    // Bounded: a database that does not answer must not hold the stop past its grace period.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all([this.presence.stop(), this.pruning]),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, STOP_DATABASE_MS) })
    ])
    clearTimeout(timer)
    // A client that neither reads the end of its stream nor closes the connection must not hold the stop.
    for (const stream of streams) stream.dropConnection()
  }

  private schedulePrune (): void {
    this.pruning = this.pruning.then(() => this.prune()).catch((err: unknown) => this.log[logLevel(err)]({ err }, 'event pruning failed'))
  }

  /** Serves one event stream until the client or the server ends it. */
  async openStream ({ userId, sessionId, res, resumeAfter, log }: OpenStreamOptions): Promise<void> {
    const stream = new EventStream({
      userId,
      sessionId,
      res,
      log,
      read: (afterId, limit) => this.eventLog.readEventsAfter(userId, afterId, limit),
      stallTimeoutMs: this.settings.sseStallTimeoutMs,
      present: this.present
    })
    if (this.stopped || stream.closed) { // shutting down, or the client already left
      stream.close()
      return
    }
    // Attach before reading where the user's ids stand: whatever commits after that read is then either
    // pushed to the stream or read by its start(), never missed.
    const attached = this.hubs.attach(stream)
    let counted = false
    stream.onClosed = () => {
      this.hubs.detach(stream)
      if (counted) this.presence.streamClosed(userId).catch(() => {})
    }
    try {
      // Read from the database, not from the hub: a hub may not yet know of an event committed elsewhere
      // that the client has already seen on another instance. The session is checked again now that the
      // stream is attached: a logout committed since the request was authenticated found no stream to close.
      const [latest, live] = await Promise.all([this.eventLog.latestEventId(userId), this.liveSessions([sessionId])])
      if (!live.has(sessionId)) {
        stream.revoke()
        return
      }
      const lastEventId = latest
      let preamble = `retry: ${this.settings.sseRetryMs}\n\nevent: ready\ndata: ${JSON.stringify({ userId, lastEventId: String(lastEventId) })}\n\n`
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
      await attached
      stream.start(preamble, after)
    } catch (err) {
      stream.close()
      throw err
    }
  }

  /** Streams the user holds on the other instances (0 on a single instance). */
  streamsElsewhere (userId: string): Promise<number> {
    return this.presence.streamsElsewhere(userId)
  }

  /** Why a resume from `afterId` cannot be served, if it cannot. */
  private async resetReason (userId: string, afterId: number, latest: number): Promise<'expired' | 'unknown' | undefined> {
    if (afterId > latest) return 'unknown'
    if (afterId === latest) return undefined
    const oldest = await this.eventLog.oldestKeptEventId(userId)
    if (oldest === undefined || afterId < oldest - 1) return 'expired'
    return undefined
  }

  async prune (): Promise<number> {
    const before = new Date(Date.now() - this.settings.eventsRetentionDays * 86400_000)
    const pruned = await this.eventLog.pruneBefore(before)
    if (pruned > 0) this.log.info({ pruned }, 'pruned old events')
    return pruned
  }

  private onBusMessage (message: BusMessage): void {
    const fail = (err: unknown) => this.log[logLevel(err)]({ err, message }, 'event bus message failed')
    switch (message.t) {
      case 'e':
        if (message.u === '*') this.hubs.pokeAll()
        else for (const [userId, newestId] of message.u) this.hubs.poke(userId, newestId)
        break
      case 'p':
        if (message.w !== undefined) this.sendPresenceTo(message.w, message.u, message.o)
        else this.sendPresence(message.u, message.o).catch(fail)
        break
      case 'r':
        this.checkSessions(message.u).catch(fail)
        break
      case 'y':
        this.sendTyping(message.u, message.f, message.y)
        break
    }
  }

  private async sendPresence (userId: string, online: boolean): Promise<void> {
    const local = this.hubs.userIds()
    if (local.length === 0) return
    const watchers = await this.watchersAmong(userId, local)
    const data = JSON.stringify({ userId, online })
    for (const ownerId of watchers) {
      for (const stream of this.hubs.streamsOf(ownerId)) stream.sendTransient('presence', data)
    }
  }

  private sendTyping (toId: string, fromId: string, typing: boolean): void {
    const data = JSON.stringify({ userId: fromId, typing })
    for (const stream of this.hubs.streamsOf(toId)) stream.sendTransient('typing', data)
  }

  /** A bus that routes presence to each watcher resolved the watchers already. */
  private sendPresenceTo (watcherId: string, userId: string, online: boolean): void {
    const data = JSON.stringify({ userId, online })
    for (const stream of this.hubs.streamsOf(watcherId)) stream.sendTransient('presence', data)
  }

  private checkSessions (userId: string): Promise<void> {
    return this.endDeadSessions([...this.hubs.streamsOf(userId)])
  }

  /** Ends, with `session.revoked`, those of these streams whose session is no longer live (revoked or expired). */
  private async endDeadSessions (streams: EventStream[]): Promise<void> {
    if (streams.length === 0) return
    const live = await this.liveSessions([...new Set(streams.map((stream) => stream.sessionId))])
    for (const stream of streams) if (!live.has(stream.sessionId)) stream.revoke()
  }
}
