// The bus between instances on PostgreSQL: LISTEN/NOTIFY on one channel, with a self-ping watchdog that
// replaces a listening connection that silently stopped delivering.
import { randomUUID } from 'node:crypto'
import postgres from 'postgres'
import { connectPostgres, type Database, postgresOptions } from '../db/client.ts'
import { broadcastDefaults, type Bus, BusHandlers, type BusMessage } from './bus.ts'

/** The listening connection's self-test: an instance's own ping must come back through LISTEN. */
type Ping = { t: 'k' }

type Envelope = (BusMessage | Ping) & { i: string }

const CHANNEL = 'chat_events'
// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD = 7000

export interface PostgresBusOptions {
  /** How often the listening connection checks itself with a ping through NOTIFY. */
  watchdogMs?: number
}

export async function createPostgresBus (database: Extract<Database, { kind: 'postgres' }>, { watchdogMs = 2000 }: PostgresBusOptions = {}): Promise<Bus> {
  const instanceId = randomUUID()
  const handlers = new BusHandlers()
  const encode = (message: BusMessage | Ping): string => {
    let payload = JSON.stringify({ ...message, i: instanceId })
    if (payload.length > MAX_PAYLOAD && message.t === 'e') payload = JSON.stringify({ t: 'e', u: '*', i: instanceId })
    return payload
  }

  const client = database.client
  let connectedOnce = false
  // The ping in flight: sentAt is set when PostgreSQL has run its NOTIFY. Until then it waits for a connection of
  // the pool, which under load can take seconds: that says nothing about the listener, and replacing it then
  // (catching every stream up from the database) would only add to the load.
  let ping: { sentAt: number | undefined } | undefined
  const pingOverdue = () => ping?.sentAt !== undefined && Date.now() - ping.sentAt > watchdogMs * 2.5
  const onNotify = (payload: string) => {
    let envelope: Envelope
    try {
      envelope = JSON.parse(payload) as Envelope
    } catch {
      return
    }
    if (envelope.t === 'k') {
      if (envelope.i === instanceId) ping = undefined
      return
    }
    if (envelope.i === instanceId) return // our own: already delivered locally
    handlers.deliver(envelope)
  }
  const onListen = () => {
    // Runs on every (re)connect of the listening connection.
    ping = undefined
    if (connectedOnce) handlers.reconnected()
    connectedOnce = true
  }
  // A client of its own for the one LISTEN connection, so that it can be thrown away and replaced.
  const listen = async (): Promise<postgres.Sql> => {
    const listener = connectPostgres(database.url, postgresOptions(1))
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
    if (listener !== undefined && ping === undefined) {
      const sent: { sentAt: number | undefined } = { sentAt: undefined }
      ping = sent
      // (A ping that failed counts as sent: if the database stays unreachable, the listener is replaced as before.)
      const ran = () => { sent.sentAt ??= Date.now() }
      client`select pg_notify(${CHANNEL}, ${encode({ t: 'k' })})`.then(ran, ran)
      return
    }
    if (listener !== undefined && !pingOverdue()) return
    // Our ping never came back, or the last replacement failed: (re)place the listener.
    replacing = true
    listener?.end({ timeout: 0 }).catch(() => {})
    listener = undefined
    listen().then((fresh) => { listener = fresh }, () => {}).finally(() => { replacing = false })
  }, watchdogMs)
  watchdog.unref()

  return {
    ...broadcastDefaults,
    instanceId,
    kind: 'postgres',
    sendsAfterCommit: false,
    connected: () => listener !== undefined && !pingOverdue(),
    noticeInTx: (message) => ({ text: 'select pg_notify($1, $2)', params: [CHANNEL, encode(message)] }),
    publish: async (message) => {
      handlers.deliver(message)
      await database.client`select pg_notify(${CHANNEL}, ${encode(message)})`
    },
    onMessage: (handler) => handlers.onMessage(handler),
    onReconnect: (handler) => handlers.onReconnect(handler),
    close: async () => {
      clearInterval(watchdog)
      await listener?.end({ timeout: 1 })
    }
  }
}
