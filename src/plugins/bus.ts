// The event bus between server instances: PostgreSQL LISTEN/NOTIFY, or in-process on PGlite (one instance).
// It carries small notices only; receivers read the rows they announce.
import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
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
  // A client of its own for the one LISTEN connection, so that it can be thrown away and replaced.
  const listen = async (): Promise<postgres.Sql> => {
    const listener = postgres(database.url, { max: 1, onnotice: () => {}, connection: { application_name: 'chat-server' } })
    try {
      await listener.listen(CHANNEL, onNotify, onListen)
    } catch (err) {
      listener.end({ timeout: 0 }).catch(() => {})
      throw err
    }
    return listener
  }
  let listener: postgres.Sql | undefined = await listen()

  // postgres.js re-listens by itself when the connection closes, but a connection that silently stopped
  // delivering (a half-open socket after a network failure or a failover) looks alive for many minutes:
  // an unanswered ping says so, and the listener is replaced.
  let replacing = false
  const watchdog = setInterval(() => {
    if (replacing) return
    if (listener !== undefined && pingSentAt === undefined) {
      pingSentAt = Date.now()
      client`select pg_notify(${CHANNEL}, ${encode({ t: 'k' })})`.catch(() => {})
      return
    }
    if (listener !== undefined && Date.now() - pingSentAt! <= watchdogMs * 2.5) return
    // Our ping never came back, or the last replacement failed: (re)place the listener.
    replacing = true
    listener?.end({ timeout: 0 }).catch(() => {})
    listener = undefined
    listen().then((fresh) => { listener = fresh }, () => {}).finally(() => { replacing = false })
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
      await listener?.end({ timeout: 1 })
    }
  }
}
