// The bus between instances on NATS (BUS_URL): one subject per user, to which an instance subscribes only
// while it holds streams of that user. Notices of committed events are published after the commit; a notice
// lost to a crash or an outage is made good by the events table (see Bus.sendsAfterCommit, the sweep).
import { setTimeout as sleep } from 'node:timers/promises'
import { randomUUID } from 'node:crypto'
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { type Bus, BusHandlers, type BusMessage, BusUnavailableError } from './bus.ts'

export interface NatsBusOptions {
  url: string
  /** Test fault: the process kills itself (SIGKILL) after a commit, before publishing its notice. */
  killBeforePublish?: boolean
  /** Logs what the bus cannot do by itself (a failed publish, a lost connection). */
  warn?: (message: string, err?: unknown) => void
}

const PREFIX = 'chat'
/** Notices for every user: `e` with '*' (never sent by the outbox here, which names its users). */
const ALL = `${PREFIX}.all`
/** How long subscribeUser waits for the server to confirm a subscription before going on without. */
const CONFIRM_MS = 2000

const userSubject = (userId: string): string => `${PREFIX}.u.${userId}`

/** The URL without its credentials, for messages. */
function redact (raw: string): string {
  try {
    const url = new URL(raw)
    url.username = ''
    url.password = ''
    return url.toString().replace(/\/$/, '')
  } catch {
    return 'nats://…'
  }
}

export async function createNatsBus ({ url, killBeforePublish = false, warn = () => {} }: NatsBusOptions): Promise<Bus> {
  const instanceId = randomUUID()
  const handlers = new BusHandlers()
  let nc: NatsConnection
  try {
    nc = await connect({
      servers: url,
      name: `chat-server ${instanceId}`,
      // This instance delivers its own messages locally: none come back from the server.
      noEcho: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
      timeout: 5000,
      // A half-open connection is noticed within about 6 s, then replaced.
      pingInterval: 2000,
      maxPingOut: 3
    })
  } catch (err) {
    throw new BusUnavailableError(`cannot reach the event bus at BUS_URL=${redact(url)}: ${(err as Error).message}`)
  }
  let up = true
  ;(async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') {
        if (up) warn('event bus connection lost: reconnecting (events still reach this instance\'s streams)')
        up = false
      } else if (status.type === 'reconnect') {
        up = true
        // Subscriptions are restored by the client; notices sent while we were away are lost: catch up.
        handlers.reconnected()
      }
    }
  })().catch((err: unknown) => warn('event bus status failed', err))

  const receive = (err: Error | null, msg: { string: () => string }): void => {
    if (err !== null) return
    let message: BusMessage
    try {
      message = JSON.parse(msg.string()) as BusMessage
    } catch {
      return
    }
    if (typeof message === 'object' && message !== null && typeof message.t === 'string') handlers.deliver(message)
  }
  const all = nc.subscribe(ALL, { callback: receive })
  const subscriptions = new Map<string, Subscription>()
  let watchersOf: (userId: string) => Promise<string[]> = async () => []

  const send = (subject: string, message: BusMessage): void => {
    try {
      // While disconnected the client buffers publishes and sends them once reconnected.
      nc.publish(subject, JSON.stringify(message))
    } catch (err) {
      warn('event bus publish failed', err)
    }
  }
  /** Each message goes to the subjects of the users whose streams it concerns. */
  const route = async (message: BusMessage): Promise<void> => {
    switch (message.t) {
      case 'e':
        if (message.u === '*') send(ALL, message)
        else for (const pair of message.u) send(userSubject(pair[0]), { t: 'e', u: [pair] })
        return
      case 'r':
        send(userSubject(message.u), message)
        return
      case 'y':
        send(userSubject(message.u), message)
        return
      case 'p':
        // Addressed to one watcher already (a block's announcement): that watcher only.
        if (message.w !== undefined) send(userSubject(message.w), message)
        else for (const watcher of await watchersOf(message.u)) send(userSubject(watcher), { t: 'p', u: message.u, o: message.o, w: watcher })
        return
      default: {
        // A new message type must say whose streams it concerns (typing: the peer's subject).
        const unrouted: never = message
        throw new Error(`event bus: no route for ${JSON.stringify(unrouted)}`)
      }
    }
  }

  return {
    instanceId,
    kind: 'nats',
    sendsAfterCommit: true,
    noticeInTx: () => undefined,
    notifyCommitted: (message) => {
      if (killBeforePublish) process.kill(process.pid, 'SIGKILL')
      route(message).catch((err: unknown) => warn('event bus publish failed', err))
    },
    publish: async (message) => {
      handlers.deliver(message)
      await route(message)
    },
    subscribeUser: async (userId) => {
      if (subscriptions.has(userId)) return
      subscriptions.set(userId, nc.subscribe(userSubject(userId), { callback: receive }))
      if (!up) return
      // Once the server has the subscription, every later notice for the user reaches this instance.
      await Promise.race([nc.flush(), sleep(CONFIRM_MS, undefined, { ref: false })]).catch(() => {})
    },
    unsubscribeUser: (userId) => {
      subscriptions.get(userId)?.unsubscribe()
      subscriptions.delete(userId)
    },
    setWatchersOf: (fn) => { watchersOf = fn },
    connected: () => up && !nc.isClosed(),
    onMessage: (handler) => handlers.onMessage(handler),
    onReconnect: (handler) => handlers.onReconnect(handler),
    close: async () => {
      all.unsubscribe()
      await nc.close()
    }
  }
}
