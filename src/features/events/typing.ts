// Typing indicators: passed to every instance through the bus (never stored), coalesced to at most one a second
// per (typist, peer) pair. The coalescing is per instance: a client that sends its typing requests to several
// instances at once could get one event a second through each.
import type { FastifyBaseLogger } from 'fastify'
import type { Bus } from '../../bus/index.ts'

export const TYPING_WINDOW_MS = 1000

interface PairState {
  sent: boolean
  /** The latest state asked for within the window, passed on at its end if it differs from what was sent. */
  pending: boolean | undefined
  timer: NodeJS.Timeout
}

export class TypingRelay {
  private readonly pairs = new Map<string, PairState>()

  constructor (private readonly bus: Bus, private readonly log: FastifyBaseLogger, private readonly windowMs = TYPING_WINDOW_MS) {}

  /** `fromId` is (or stopped) typing to `toId`: the first state of a window goes at once, the last one at its end. */
  offer (fromId: string, toId: string, typing: boolean): void {
    const key = `${fromId}>${toId}`
    const state = this.pairs.get(key)
    if (state === undefined) this.send(key, fromId, toId, typing)
    else state.pending = typing
  }

  private send (key: string, fromId: string, toId: string, typing: boolean): void {
    this.bus.publish({ t: 'y', u: toId, f: fromId, y: typing }).catch((err: unknown) => this.log.warn({ err }, 'typing indicator not sent'))
    // The entry lives until the window closes: later requests within it only update `pending`.
    const timer = setTimeout(() => {
      const state = this.pairs.get(key)!
      this.pairs.delete(key)
      if (state.pending !== undefined && state.pending !== state.sent) this.send(key, fromId, toId, state.pending)
    }, this.windowMs)
    timer.unref()
    this.pairs.set(key, { sent: typing, pending: undefined, timer })
  }

  stop (): void {
    for (const state of this.pairs.values()) clearTimeout(state.timer)
    this.pairs.clear()
  }
}
