// The event bus between server instances: what crosses instances, and the interface every bus implements.
// It carries small notices only; receivers read the rows they announce.
import type { BoundQuery } from '../db/client.ts'

export type BusMessage =
  /**
   * Durable events committed: [user id, newest event id] pairs, or every user ('*') when too many to list. A notice
   * sent with the commit names the users only: their ids are taken in that same round trip.
   */
  | { t: 'e', u: Array<[string, number?]> | '*' }
  /**
   * A user went online or offline. `w`: for this watcher's streams only (a bus that routes by user sets it,
   * its sender having resolved the watchers); without it every local watcher is told.
   */
  | { t: 'p', u: string, o: boolean, w?: string }
  /** Sessions of a user were revoked: close the streams whose session is no longer live. */
  | { t: 'r', u: string }
  /** User `f` is typing (`y`) or stopped, to user `u`: a transient event for u's streams, never stored. */
  | { t: 'y', u: string, f: string, y: boolean }

export type BusKind = 'in-process' | 'postgres' | 'nats'

export interface Bus {
  readonly instanceId: string
  readonly kind: BusKind
  /**
   * True when notices of committed events are sent after the commit, not with it: an instance that dies in
   * between sends none, so instances re-read where their users' event ids stand every so often (the sweep).
   */
  readonly sendsAfterCommit: boolean
  /**
   * A statement that announces to other instances when the transaction it runs in commits (and never if it rolls
   * back). Transactional buses only: the others answer undefined.
   */
  noticeInTx: (message: BusMessage) => BoundQuery | undefined
  /** Announces events that just committed. Buses whose notices are not transactional only. */
  notifyCommitted: (message: BusMessage) => void
  /** Delivers now, to this instance and every other. */
  publish: (message: BusMessage) => Promise<void>
  /**
   * This instance now holds streams of this user (its first one): receive the user's notices. Resolves once
   * they are routed here (or at once while the bus is down: a reconnect catches up). Broadcast buses route
   * everything everywhere and answer undefined: nothing to wait for.
   */
  subscribeUser: (userId: string) => Promise<void> | undefined
  /** This instance's last stream of the user closed. */
  unsubscribeUser: (userId: string) => void
  /** Who watches a user's presence (buses that route presence to each watcher need it). */
  setWatchersOf: (watchersOf: (userId: string) => Promise<string[]>) => void
  /** Whether the bus is reachable now (for /health). */
  connected: () => boolean
  /** Called with messages from other instances, and with this instance's own published ones. */
  onMessage: (handler: (message: BusMessage) => void) => void
  /** Called after the listening connection (re)connects: notices sent while it was down are lost, so catch up. */
  onReconnect: (handler: () => void) => void
  close: () => Promise<void>
}

/** A bus that cannot be reached at start: the server refuses to start with this one line. */
export class BusUnavailableError extends Error {
  override name = 'BusUnavailableError'
}

/** Handlers registered with onMessage/onReconnect, shared by the implementations. */
export class BusHandlers {
  private readonly messageHandlers: Array<(message: BusMessage) => void> = []
  private readonly reconnectHandlers: Array<() => void> = []

  onMessage (handler: (message: BusMessage) => void): void {
    this.messageHandlers.push(handler)
  }

  onReconnect (handler: () => void): void {
    this.reconnectHandlers.push(handler)
  }

  deliver (message: BusMessage): void {
    for (const handler of this.messageHandlers) handler(message)
  }

  reconnected (): void {
    for (const handler of this.reconnectHandlers) handler()
  }
}

/** The parts of the interface a broadcast bus (every instance gets every notice) does not need. */
export const broadcastDefaults = {
  notifyCommitted: () => {},
  subscribeUser: () => undefined,
  unsubscribeUser: () => {},
  setWatchersOf: () => {}
} satisfies Partial<Bus>
