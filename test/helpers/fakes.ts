// Stand-ins for unit tests: a response socket whose backpressure the test controls, a recording logger,
// and in-memory stored events.
import { EventEmitter } from 'node:events'
import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger } from 'fastify'
import type { StoredEvent } from '../../src/features/events/repository.ts'
import { type SseItem, SseParser } from './sse-parser.ts'

/** What EventStream uses of a ServerResponse: write() answers false while the test says the client is not reading. */
export class FakeResponse extends EventEmitter {
  readonly chunks: string[] = []
  /** write() answers this; set false to act as a client that stopped reading. */
  accepting = true
  /** How many more writes answer true; the next one answers false (and is still buffered, as Node does). */
  acceptWrites = Infinity
  destroyed = false
  ended = false
  writableLength = 0
  writesWhileBlocked = 0
  private blocked = false

  write (chunk: string): boolean {
    if (this.ended || this.destroyed) throw new Error('write after end')
    this.chunks.push(chunk)
    if (this.blocked) this.writesWhileBlocked++
    if (--this.acceptWrites < 0) this.accepting = false
    if (!this.accepting) this.blocked = true
    return this.accepting
  }

  end (chunk?: string): this {
    if (this.ended || this.destroyed) throw new Error('end after end')
    if (chunk !== undefined && chunk !== '') this.chunks.push(chunk)
    this.ended = true
    setImmediate(() => this.emit('close'))
    return this
  }

  destroy (): this {
    if (this.destroyed) return this
    this.destroyed = true
    setImmediate(() => this.emit('close'))
    return this
  }

  /** The client read everything: the socket accepts writes again and says so. */
  drain (): void {
    this.accepting = true
    this.acceptWrites = Infinity
    this.blocked = false
    this.emit('drain')
  }

  /** The client went away. */
  hangUp (): void {
    this.destroyed = true
    this.emit('close')
  }

  get text (): string {
    return this.chunks.join('')
  }

  /** Everything written, parsed as a client would. */
  items (): SseItem[] {
    return new SseParser().push(this.text)
  }

  /** Ids of the durable events written, in order. */
  ids (): number[] {
    return this.items().flatMap((item) => item.type === 'frame' && item.frame.id !== undefined ? [Number(item.frame.id)] : [])
  }

  asResponse (): ServerResponse {
    return this as unknown as ServerResponse
  }
}

/** Lets pending promise callbacks and immediates run. */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

export interface LogEntry {
  level: string
  args: unknown[]
}

/** A logger that keeps what it is told. */
export function recordingLogger (): { log: FastifyBaseLogger, entries: LogEntry[] } {
  const entries: LogEntry[] = []
  const log: Record<string, unknown> = { level: 'trace' }
  for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace']) log[level] = (...args: unknown[]) => { entries.push({ level, args }) }
  log.silent = () => {}
  log.child = () => log
  return { log: log as unknown as FastifyBaseLogger, entries }
}

/**
 * Stored events in memory, with per-user ids from 1. A read answers what was committed when it was called;
 * while `gated`, it then waits for release(), as a slow database would.
 */
export class FakeEventStore {
  readonly events: StoredEvent[] = []
  readonly reads: Array<{ userId: string, afterId: number }> = []
  gated = false
  /** The next this many calls fail. */
  failures = 0
  private gates: Array<() => void> = []

  /** Commits `n` events of the user; answers them. */
  commit (userId: string, n = 1): StoredEvent[] {
    const first = this.latest(userId) + 1
    const added = Array.from({ length: n }, (_, i) => ({ userId, id: first + i, type: 'profile.updated', data: JSON.stringify({ n: first + i }) }))
    this.events.push(...added)
    return added
  }

  /** Drops the user's events up to `id` (pruning). */
  prune (userId: string, id: number): void {
    const kept = this.events.filter((event) => event.userId !== userId || event.id > id)
    this.events.splice(0, this.events.length, ...kept)
  }

  latest (userId: string): number {
    return this.events.filter((event) => event.userId === userId).reduce((max, event) => Math.max(max, event.id), 0)
  }

  readonly latestEventId = async (userId: string): Promise<number> => {
    const latest = this.latest(userId)
    await this.gate()
    return latest
  }

  readonly latestEventIds = async (userIds: string[]): Promise<Map<string, number>> => {
    const latest = new Map(userIds.map((userId) => [userId, this.latest(userId)]))
    await this.gate()
    return latest
  }

  readonly readEventsAfter = async (userId: string, afterId: number, limit: number): Promise<StoredEvent[]> => {
    this.reads.push({ userId, afterId })
    const page = this.events.filter((event) => event.userId === userId && event.id > afterId).slice(0, limit)
    await this.gate()
    return page
  }

  /** EventStream's `read` for one user. */
  reader (userId: string) {
    return (afterId: number, limit: number) => this.readEventsAfter(userId, afterId, limit)
  }

  get waiting (): number {
    return this.gates.length
  }

  /** Lets the waiting calls answer. */
  async release (): Promise<void> {
    const gates = this.gates
    this.gates = []
    for (const open of gates) open()
    await flush()
  }

  private async gate (): Promise<void> {
    if (this.failures > 0) {
      this.failures--
      throw new Error('database unavailable')
    }
    if (this.gated) await new Promise<void>((resolve) => this.gates.push(resolve))
  }
}
