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

type Envelope = BusMessage & { i: string }

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

export async function createBus (database: Database): Promise<Bus> {
  const instanceId = randomUUID()
  const handlers: Array<(message: BusMessage) => void> = []
  const reconnectHandlers: Array<() => void> = []
  const deliver = (message: BusMessage) => {
    for (const handler of handlers) handler(message)
  }
  const encode = (message: BusMessage): string => {
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

  let connectedOnce = false
  const subscription = await database.client.listen(CHANNEL, (payload) => {
    let envelope: Envelope
    try {
      envelope = JSON.parse(payload) as Envelope
    } catch {
      return
    }
    if (envelope.i === instanceId) return // our own: already delivered locally
    deliver(envelope)
  }, () => {
    // Runs on every (re)connect of the listening connection.
    if (connectedOnce) for (const handler of reconnectHandlers) handler()
    connectedOnce = true
  })

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
    close: () => subscription.unlisten()
  }
}
