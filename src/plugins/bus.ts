// The event bus between server instances: PostgreSQL LISTEN/NOTIFY, or in-process on PGlite (one instance).
// It carries small notices only; receivers read the rows they announce.
import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import type { Database, Db } from '../db/client.ts'

export type BusMessage =
  /** Durable events committed: [user id, newest event id] pairs, or every user ('*') when too many to list. */
  | { t: 'e', u: Array<[string, number]> | '*' }
  /** A user went online or offline. */
  | { t: 'p', u: string, o: boolean }
  /** Sessions of a user were revoked: close the streams whose session is no longer live. */
  | { t: 'r', u: string }

/** The listening connection's self-test: an instance's own ping must come back through LISTEN. */
type Ping = { t: 'k' }

type Envelope = (BusMessage | Ping) & { i: string }

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

const CHANNEL = 'chat_events'
// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD = 7000

export interface BusOptions {
  /** How often the listening connection checks itself with a ping through NOTIFY. */
  watchdogMs?: number
}

export async function createBus (database: Database, { watchdogMs = 2000 }: BusOptions = {}): Promise<Bus> {
  const instanceId = randomUUID()
  const handlers: Array<(message: BusMessage) => void> = []
  const reconnectHandlers: Array<() => void> = []
  const deliver = (message: BusMessage) => {
    for (const handler of handlers) handler(message)
  }
  const encode = (message: BusMessage | Ping): string => {
    let payload = JSON.stringify({ ...message, i: instanceId })
    if (payload.length > MAX_PAYLOAD && message.t === 'e') payload = JSON.stringify({ t: 'e', u: '*', i: instanceId })
    return payload
  }

  if (database.kind === 'pglite') {
    return {
      instanceId,
      notifyInTx: async () => {},
      publish: async (message) => deliver(message),
      onMessage: (handler) => { handlers.push(handler) },
      onReconnect: (handler) => { reconnectHandlers.push(handler) },
      close: async () => {}
    }
  }

  const client = database.client
  let connectedOnce = false
  let pingSentAt: number | undefined
  const onNotify = (payload: string) => {
    let envelope: Envelope
    try {
      envelope = JSON.parse(payload) as Envelope
    } catch {
      return
    }
    if (envelope.t === 'k') {
      if (envelope.i === instanceId) pingSentAt = undefined
      return
    }
    if (envelope.i === instanceId) return // our own: already delivered locally
    deliver(envelope)
  }
  const onListen = () => {
    // Runs on every (re)connect of the listening connection.
    pingSentAt = undefined
    if (connectedOnce) for (const handler of reconnectHandlers) handler()
    connectedOnce = true
  }
  let subscription = await client.listen(CHANNEL, onNotify, onListen)

  // postgres.js re-listens by itself when the connection drops, but gives up for good if that one attempt
  // fails (database restarting): an unanswered ping tells us to listen again ourselves.
  let checking = false
  const watchdog = setInterval(() => {
    if (checking) return
    checking = true
    const check = async () => {
      if (pingSentAt === undefined) {
        pingSentAt = Date.now()
        await client`select pg_notify(${CHANNEL}, ${encode({ t: 'k' })})`
      } else if (Date.now() - pingSentAt > watchdogMs * 2.5) {
        await subscription.unlisten().catch(() => {})
        subscription = await client.listen(CHANNEL, onNotify, onListen)
      }
    }
    check().catch(() => {}).finally(() => { checking = false })
  }, watchdogMs)
  watchdog.unref()

  return {
    instanceId,
    notifyInTx: async (tx, message) => {
      await tx.execute(sql`select pg_notify(${CHANNEL}, ${encode(message)})`)
    },
    publish: async (message) => {
      deliver(message)
      await database.client`select pg_notify(${CHANNEL}, ${encode(message)})`
    },
    onMessage: (handler) => { handlers.push(handler) },
    onReconnect: (handler) => { reconnectHandlers.push(handler) },
    close: async () => {
      clearInterval(watchdog)
      await subscription.unlisten()
    }
  }
}
