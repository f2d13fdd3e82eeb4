// This instance's open streams, grouped by user. Each user's hub follows the user's event ids: it forwards
// events committed here as they are, and reads from the database whatever it learns of otherwise
// (another instance's notice, a gap, a reconnect), so every stream sees every id once and in order.
import type { FastifyBaseLogger } from 'fastify'
import { logLevel } from '../../db/errors.ts'
import type { EventStream } from './stream.ts'
import type { StoredEvent } from './repository.ts'

const PAGE = 500
/** After a failed database read, how long a hub waits before trying again. */
const RETRY_MS = 1000

export interface HubStore {
  latestEventId: (userId: string) => Promise<number>
  latestEventIds: (userIds: string[]) => Promise<Map<string, number>>
  readEventsAfter: (userId: string, afterId: number, limit: number) => Promise<StoredEvent[]>
}

class UserHub {
  readonly streams = new Set<EventStream>()
  /** Newest event id this hub has forwarded; undefined until the first read. */
  lastId: number | undefined
  private reading = false
  private behind = false
  private retry: NodeJS.Timeout | undefined

  private markReady!: () => void
  /** Settles once the first read of where the user's ids stand is done (or failed: it is then retried). */
  readonly ready = new Promise<void>((resolve) => { this.markReady = resolve })
  /** That read waits for the bus to confirm the user's subscription: streams must wait for it too. */
  deferred = false

  constructor (readonly userId: string, private readonly store: HubStore, private readonly log: FastifyBaseLogger) {}

  /**
   * Learns where the user's ids stand once `subscribed` (the bus routes the user's notices here): an event
   * committed after that read is then announced to this hub. Events offered meanwhile are read afterwards.
   */
  init (subscribed?: Promise<void>): void {
    this.deferred = subscribed !== undefined
    const latest = subscribed === undefined ? this.store.latestEventId(this.userId) : subscribed.catch(() => {}).then(() => this.store.latestEventId(this.userId))
    latest.then((latest) => {
      this.lastId = latest
      this.markReady()
      if (this.behind) this.catchUp()
    }, (err: unknown) => {
      this.markReady()
      this.log[logLevel(err)]({ err, userId: this.userId }, 'event hub could not read the newest event id')
      this.retryLater(() => this.init())
    })
  }

  /** The hub lost its last stream: stop retrying. */
  dispose (): void {
    clearTimeout(this.retry)
    this.streams.clear()
  }

  private retryLater (again: () => void): void {
    clearTimeout(this.retry)
    this.retry = setTimeout(() => { if (this.streams.size > 0) again() }, RETRY_MS)
    this.retry.unref()
  }

  offer (events: StoredEvent[]): void {
    if (this.lastId === undefined || this.reading) {
      this.behind = true
      return
    }
    let start = 0
    while (start < events.length && events[start]!.id <= this.lastId) start++
    if (start === events.length) return
    if (events[start]!.id !== this.lastId + 1) {
      this.catchUp()
      return
    }
    const fresh = start === 0 ? events : events.slice(start)
    this.lastId = fresh[fresh.length - 1]!.id
    this.forward(fresh)
  }

  poke (newestId: number | undefined): void {
    if (this.lastId === undefined || this.reading) {
      this.behind = true
      return
    }
    if (newestId === undefined || newestId > this.lastId) this.catchUp()
  }

  private forward (events: StoredEvent[]): void {
    for (const stream of this.streams) stream.push(events)
  }

  private catchUp (): void {
    if (this.reading) {
      this.behind = true
      return
    }
    this.reading = true
    this.readUntilCurrent().catch((err: unknown) => {
      // Retry, or the streams would wait for the user's next event to learn of the ones missed here.
      this.log[logLevel(err)]({ err, userId: this.userId }, 'event hub catch-up failed')
      this.retryLater(() => this.catchUp())
    })
  }

  private async readUntilCurrent (): Promise<void> {
    try {
      do {
        this.behind = false
        for (;;) {
          const page = await this.store.readEventsAfter(this.userId, this.lastId!, PAGE)
          if (page.length > 0) {
            this.lastId = page[page.length - 1]!.id
            this.forward(page)
          }
          if (page.length < PAGE || this.streams.size === 0) break
        }
      } while (this.behind && this.streams.size > 0)
    } finally {
      this.reading = false
    }
  }
}

/** Per-user routing of bus notices (a no-op on buses that broadcast every notice to every instance). */
export interface UserSubscriptions {
  /** undefined: nothing to wait for (the bus broadcasts every notice to every instance). */
  subscribeUser: (userId: string) => Promise<void> | undefined
  unsubscribeUser: (userId: string) => void
}

const everything: UserSubscriptions = { subscribeUser: () => undefined, unsubscribeUser: () => {} }

export class Hubs {
  private readonly byUser = new Map<string, UserHub>()
  private sweeping = false

  constructor (private readonly store: HubStore, private readonly log: FastifyBaseLogger, private readonly subscriptions: UserSubscriptions = everything) {}

  /**
   * Adds a stream. From now on the stream is pushed every event the hub forwards; it must read the database
   * itself for whatever committed before (EventStream.start does). When a promise is returned, only after it
   * settles: the hub's read of where the user's ids stand waits for the bus subscription, and the stream's
   * read must come after it, or an event committed in between would be neither read nor forwarded. (Without
   * a subscription to wait for, the hub's read is issued here, before any read of the stream.)
   */
  attach (stream: EventStream): Promise<void> | undefined {
    let hub = this.byUser.get(stream.userId)
    if (hub === undefined) {
      hub = new UserHub(stream.userId, this.store, this.log)
      this.byUser.set(stream.userId, hub)
      hub.streams.add(stream)
      hub.init(this.subscriptions.subscribeUser(stream.userId))
    } else {
      hub.streams.add(stream)
    }
    return hub.deferred ? hub.ready : undefined
  }

  /** Removes a stream; true when it was the user's last stream on this instance. */
  detach (stream: EventStream): boolean {
    const hub = this.byUser.get(stream.userId)
    if (hub === undefined || !hub.streams.delete(stream)) return false
    if (hub.streams.size > 0) return false
    this.byUser.delete(stream.userId)
    this.subscriptions.unsubscribeUser(stream.userId)
    hub.dispose()
    return true
  }

  /** Events just committed by this instance, in id order per user. */
  offer (events: StoredEvent[]): void {
    if (events.length === 0 || this.byUser.size === 0) return
    const byUser = new Map<string, StoredEvent[]>()
    for (const event of events) {
      if (!this.byUser.has(event.userId)) continue
      const list = byUser.get(event.userId)
      if (list === undefined) byUser.set(event.userId, [event])
      else list.push(event)
    }
    for (const [userId, list] of byUser) this.byUser.get(userId)!.offer(list)
  }

  /** Another instance committed events up to `newestId` for this user. */
  poke (userId: string, newestId?: number): void {
    this.byUser.get(userId)?.poke(newestId)
  }

  pokeAll (): void {
    for (const hub of this.byUser.values()) hub.poke(undefined)
  }

  /**
   * Reads where every local user's ids stand and catches up the hubs that are behind: what a notice lost
   * between another instance's commit and its publish would have told (one query per sweep).
   */
  async sweep (): Promise<void> {
    if (this.sweeping || this.byUser.size === 0) return
    this.sweeping = true
    try {
      const latest = await this.store.latestEventIds(this.userIds())
      for (const [userId, newestId] of latest) {
        const hub = this.byUser.get(userId)
        if (hub?.lastId !== undefined && newestId > hub.lastId) hub.poke(newestId)
      }
    } finally {
      this.sweeping = false
    }
  }

  userIds (): string[] {
    return [...this.byUser.keys()]
  }

  streamsOf (userId: string): Iterable<EventStream> {
    return this.byUser.get(userId)?.streams ?? []
  }

  * allStreams (): Iterable<EventStream> {
    for (const hub of this.byUser.values()) yield * hub.streams
  }
}
