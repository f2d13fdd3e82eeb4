// The event bus between server instances: what crosses instances, and the interface every bus implements.
// It carries small notices only; receivers read the rows they announce.
import type { Db } from '../db/client.ts'

export type BusMessage =
  /** Durable events committed: [user id, newest event id] pairs, or every user ('*') when too many to list. */
  | { t: 'e', u: Array<[string, number]> | '*' }
  /** A user went online or offline. */
  | { t: 'p', u: string, o: boolean }
  /** Sessions of a user were revoked: close the streams whose session is no longer live. */
  | { t: 'r', u: string }
  /** User `f` is typing (`y`) or stopped, to user `u`: a transient event for u's streams, never stored. */
  | { t: 'y', u: string, f: string, y: boolean }

export interface Bus {
  readonly instanceId: string
  /** Announces to other instances when `tx` commits (and never if it rolls back). */
  notifyInTx: (tx: Db, message: BusMessage) => Promise<void>
  /** Delivers now, to this instance and every other. */
  publish: (message: BusMessage) => Promise<void>
  /** Called with messages from other instances, and with this instance's own published ones. */
  onMessage: (handler: (message: BusMessage) => void) => void
  /** Called after the listening connection (re)connects: notices sent while it was down are lost, so catch up. */
  onReconnect: (handler: () => void) => void
  close: () => Promise<void>
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
