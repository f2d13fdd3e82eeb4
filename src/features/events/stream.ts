// One Server-Sent Events connection: writes events in id order, never buffers past the socket's backpressure,
// and when it falls behind (client not reading, or a gap) re-reads what it missed from the database.
import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import { logLevel } from '../../db/errors.ts'
import { ERASED, type StoredEvent } from './repository.ts'

const PAGE = 500

export interface EventStreamOptions {
  userId: string
  sessionId: string
  res: ServerResponse
  log: FastifyBaseLogger
  /** Reads this user's stored events after an id, oldest first. */
  read: (afterId: number, limit: number) => Promise<StoredEvent[]>
  /** How long the socket may refuse writes before the stream is closed (the client resumes by id). */
  stallTimeoutMs: number
  /** Last step before a durable event's data is written (signing the file links it carries: fresh at send time). */
  present?: (data: string) => string
}

const asStored = (data: string) => data

export class EventStream {
  readonly userId: string
  readonly sessionId: string
  private readonly res: ServerResponse
  private readonly options: EventStreamOptions
  private readonly present: (data: string) => string
  /** Id of the newest event written to this stream. */
  private lastSent = 0
  /** Until start(), pushes are dropped: start() reads everything after its resume point itself. */
  private started = false
  private catchingUp = false
  /** Something was pushed while catching up or blocked: read the database again before going live. */
  private behind = false
  private blocked = false
  private stallTimer: NodeJS.Timeout | undefined
  private drainWaiters: Array<() => void> = []
  closed = false

  constructor (options: EventStreamOptions) {
    this.options = options
    this.userId = options.userId
    this.sessionId = options.sessionId
    this.res = options.res
    this.present = options.present ?? asStored
    this.res.on('drain', () => this.onDrain())
    this.res.on('close', () => this.markClosed())
    // The client may have left while the request was authenticated: 'close' has then already fired.
    if (this.res.destroyed) this.closed = true
  }

  /** Writes the opening lines, then everything after `afterId`, then goes live. */
  start (preamble: string, afterId: number): void {
    if (this.closed || this.started) return
    this.started = true
    this.lastSent = afterId
    this.write(preamble)
    this.catchUp()
  }

  /** Live events of this user, in id order (from the hub). */
  push (events: StoredEvent[]): void {
    if (this.closed || !this.started) return
    if (this.catchingUp || this.blocked) {
      this.behind = true
      return
    }
    // Contiguous events go out in one write (one syscall for a whole batch).
    let chunk = ''
    let gap = false
    for (const event of events) {
      if (event.id <= this.lastSent) continue
      if (event.id !== this.lastSent + 1) {
        gap = true
        break
      }
      this.lastSent = event.id
      chunk += this.frame(event)
    }
    if (chunk !== '') this.write(chunk)
    if (gap) {
      this.behind = true
      if (!this.blocked) this.catchUp()
    }
  }

  /** An event without id (presence): best effort, dropped when the client is not reading. */
  sendTransient (type: string, data: string): void {
    if (this.closed || this.blocked || !this.started) return
    this.write(`event: ${type}\ndata: ${data}\n\n`)
  }

  heartbeat (): void {
    if (this.closed || this.blocked || !this.started) return
    this.write(': ping\n\n')
  }

  /** Tells the client its session ended, then closes. */
  revoke (): void {
    this.end('event: session.revoked\ndata: {}\n\n')
  }

  close (): void {
    this.end('')
  }

  /** Cuts the connection if the end of the stream has not been handed to the kernel yet. */
  dropConnection (): void {
    if (!this.res.writableFinished) this.res.destroy()
  }

  private end (last: string): void {
    if (this.closed) return
    // A client that is not reading would never receive the end, and its socket would hold the server open.
    if (this.blocked) this.res.destroy()
    else this.res.end(last)
    this.markClosed()
  }

  private writeEvent (event: StoredEvent): void {
    this.lastSent = event.id
    // An erased event keeps its id in the log but is never sent: the client sees no event for that id.
    if (event.type !== ERASED) this.write(this.frame(event))
  }

  private frame (event: StoredEvent): string {
    return `id: ${event.id}\nevent: ${event.type}\ndata: ${this.present(event.data)}\n\n`
  }

  private write (chunk: string): void {
    if (this.res.write(chunk) || this.blocked) return
    this.blocked = true
    this.stallTimer = setTimeout(() => {
      this.options.log.info({ userId: this.userId }, 'event stream closed: client stopped reading')
      this.res.destroy()
      this.markClosed()
    }, this.options.stallTimeoutMs)
  }

  private onDrain (): void {
    if (!this.blocked) return
    this.blocked = false
    clearTimeout(this.stallTimer)
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const wake of waiters) wake()
    if (this.behind && !this.catchingUp) this.catchUp()
  }

  private waitForDrain (): Promise<void> {
    return new Promise((resolve) => this.drainWaiters.push(resolve))
  }

  private markClosed (): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.stallTimer)
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const wake of waiters) wake()
    this.onClosed?.()
  }

  /** Bytes written but not yet handed to the kernel (bounded by the socket's backpressure). */
  get bufferedBytes (): number {
    return this.res.writableLength
  }

  /** Set by the hub: runs once when the connection ends, however it ends. */
  onClosed: (() => void) | undefined

  private catchUp (): void {
    if (this.catchingUp || this.closed) return
    this.catchingUp = true
    this.readUntilCurrent()
      .catch((err: unknown) => {
        this.options.log[logLevel(err)]({ err, userId: this.userId }, 'event stream catch-up failed')
        this.close()
      })
  }

  private async readUntilCurrent (): Promise<void> {
    // catchingUp is cleared in the same tick as the last check of `behind`, so no push can fall between them.
    try {
      do {
        this.behind = false
        for (;;) {
          const page = await this.options.read(this.lastSent, PAGE)
          if (this.closed) return
          // A user's ids have no holes, so a jump means pruning removed events after our position.
          if (page.length > 0 && page[0]!.id > this.lastSent + 1) this.write(`event: reset\ndata: ${JSON.stringify({ reason: 'expired' })}\n\n`)
          for (const event of page) {
            if (this.blocked) await this.waitForDrain()
            if (this.closed) return
            if (event.id > this.lastSent) this.writeEvent(event)
          }
          if (page.length < PAGE) break
        }
        if (this.blocked) await this.waitForDrain()
      } while (this.behind && !this.closed)
    } finally {
      this.catchingUp = false
    }
  }
}
