// One EventSource per tab on /events. After any drop it reopens with `lastEventId` = the last id it saw,
// so the server replays exactly what was missed; ids at or below that one are ignored, so nothing shows twice.
import { getToken, type StreamEvent } from './api.ts'

/** The stream's event types this client listens to (EventSource needs each name). */
const EVENT_TYPES = [
  'ready', 'reset', 'session.revoked', 'presence',
  'message.created', 'message.read', 'history.cleared', 'contact.added', 'contact.removed', 'profile.updated',
  'message.updated', 'message.deleted', 'typing', 'user.deleted', 'block.added', 'block.removed'
] satisfies Array<StreamEvent['event']>

/** Events without an id: not numbered, never replayed. */
const TRANSIENT = new Set(['ready', 'reset', 'session.revoked', 'presence', 'typing'])

export interface LiveHandlers {
  /** A durable or transient event, each durable one exactly once. */
  onEvent: (event: StreamEvent) => void
  /** The stream is open; `fresh` when there was nothing to resume from (load everything by REST). */
  onReady: (fresh: boolean) => void
  onStatus: (status: 'connecting' | 'live' | 'offline') => void
  /** A connection attempt failed before the stream opened: the session may be gone. */
  onConnectFailed: () => void
}

export class Live {
  private source: EventSource | null = null
  private lastId: number | null = null
  private attempts = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private stopped = false

  constructor (private readonly handlers: LiveHandlers) {}

  start (): void {
    addEventListener('online', this.reconnectNow)
    addEventListener('offline', this.wentOffline)
    this.open()
  }

  stop (): void {
    this.stopped = true
    removeEventListener('online', this.reconnectNow)
    removeEventListener('offline', this.wentOffline)
    clearTimeout(this.timer)
    this.source?.close()
    this.source = null
  }

  private open (): void {
    const token = getToken()
    if (this.stopped || token === null) return
    this.handlers.onStatus('connecting')
    const params = new URLSearchParams({ access_token: token })
    if (this.lastId !== null) params.set('lastEventId', String(this.lastId))
    const source = new EventSource(`/events?${params.toString()}`)
    this.source = source
    let opened = false
    for (const type of EVENT_TYPES) {
      source.addEventListener(type, (message) => {
        if (this.source !== source) return
        if (type === 'ready') opened = true
        this.receive(type, message)
      })
    }
    // The browser would retry by itself with the original URL; reopening ourselves keeps the token current.
    source.onerror = () => {
      if (this.source !== source) return
      source.close()
      this.source = null
      if (!opened) this.handlers.onConnectFailed()
      this.retryLater()
    }
  }

  private receive (type: string, message: MessageEvent<string>): void {
    const data: unknown = JSON.parse(message.data)
    if (type === 'ready') {
      const fresh = this.lastId === null
      if (fresh) this.lastId = Number((data as { lastEventId: string }).lastEventId)
      this.attempts = 0
      this.handlers.onStatus('live')
      this.handlers.onReady(fresh)
      return
    }
    if (!TRANSIENT.has(type)) {
      const id = Number(message.lastEventId)
      if (this.lastId !== null && id <= this.lastId) return
      this.lastId = id
    }
    this.handlers.onEvent({ id: message.lastEventId, event: type, data } as StreamEvent)
  }

  private retryLater (): void {
    clearTimeout(this.timer)
    if (this.stopped) return
    if (!navigator.onLine) {
      this.handlers.onStatus('offline')
      return // the 'online' event reopens it
    }
    this.handlers.onStatus('connecting')
    const delay = Math.min(1000 * 2 ** this.attempts++, 15_000)
    this.timer = setTimeout(() => this.open(), delay)
  }

  private readonly reconnectNow = (): void => {
    if (this.stopped) return
    clearTimeout(this.timer)
    this.source?.close()
    this.source = null
    this.open()
  }

  private readonly wentOffline = (): void => {
    clearTimeout(this.timer)
    this.source?.close()
    this.source = null
    this.handlers.onStatus('offline')
  }
}
