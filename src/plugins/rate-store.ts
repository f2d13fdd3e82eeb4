// A store for @fastify/rate-limit whose budgets hold across the instances sharing one PostgreSQL. Each instance
// counts in memory and, every second, adds what it counted to one row per key (rate_counters) and takes the
// cluster's total back. A key's window starts at its first hit, as in the plugin's own memory store; the row
// holds the window every instance adopts. A request costs no database round trip; the price is that the cluster
// may let through up to what the other instances counted in the last second before it refuses.
import { lt, sql } from 'drizzle-orm'
import type { FastifyBaseLogger } from 'fastify'
import { array } from '../db/arrays.ts'
import { type Db, queryRows } from '../db/client.ts'
import { logLevel } from '../db/errors.ts'
import { rateCounters } from '../db/schema.ts'

interface Count {
  /** When the key's window started (ms since the epoch): this instance's first hit, until the row says otherwise. */
  windowStart: number
  timeWindow: number
  /** The cluster's count as of the last sync (this instance's synced hits included). */
  shared: number
  /** Counted here and being added to the shared row by the sync under way. */
  syncing: number
  /** Counted here since the last sync began. */
  pending: number
}

const total = (count: Count) => count.shared + count.syncing + count.pending

type Callback = (err: Error | null, result: { current: number, ttl: number }) => void

export class SharedRateStore {
  private readonly counts = new Map<string, Count>()
  private readonly timer: NodeJS.Timeout
  private syncing: Promise<void> = Promise.resolve()
  private lastCleanup = 0

  constructor (private readonly db: Db, private readonly log: FastifyBaseLogger, syncMs = 1000) {
    this.timer = setInterval(() => {
      this.syncing = this.syncing.then(() => this.sync()).catch((err: unknown) => this.log[logLevel(err)]({ err }, 'rate limit sync failed'))
    }, syncMs)
    this.timer.unref()
  }

  incr (key: string, callback: Callback, timeWindow: number): void {
    const now = Date.now()
    let count = this.counts.get(key)
    if (count === undefined || count.windowStart + timeWindow <= now) {
      count = { windowStart: now, timeWindow, shared: 0, syncing: 0, pending: 0 }
      this.counts.set(key, count)
    }
    count.pending++
    callback(null, { current: total(count), ttl: count.windowStart + timeWindow - now })
  }

  read (key: string, callback: Callback, timeWindow: number): void {
    const now = Date.now()
    const count = this.counts.get(key)
    if (count === undefined || count.windowStart + timeWindow <= now) return callback(null, { current: 0, ttl: 0 })
    callback(null, { current: total(count), ttl: count.windowStart + timeWindow - now })
  }

  /** Every route shares this one store (the budgets are named by their keys). */
  child (): this {
    return this
  }

  async close (): Promise<void> {
    clearInterval(this.timer)
    await this.syncing
  }

  /**
   * Adds what was counted here to the shared rows (a row whose window ended starts a new one) and takes the
   * cluster's totals and windows back; forgets keys whose window ended.
   */
  async sync (): Promise<void> {
    const now = Date.now()
    const sent: Array<{ key: string, count: Count, delta: number }> = []
    for (const [key, count] of this.counts) {
      if (count.windowStart + count.timeWindow <= now) this.counts.delete(key)
      else if (count.pending > 0) sent.push({ key, count, delta: count.pending })
    }
    if (sent.length > 0) {
      for (const { count, delta } of sent) {
        count.syncing = delta
        count.pending -= delta
      }
      try {
        const rows = await queryRows<{ key: string, window_start: string | number, count: number }>(this.db, sql`
          insert into ${rateCounters} as r (key, window_start, count)
          select * from unnest(${array(sent.map(({ key }) => key), 'text')}, ${array(sent.map(({ count }) => count.windowStart), 'bigint')},
            ${array(sent.map(({ delta }) => delta), 'bigint')})
          on conflict (key) do update set
            window_start = case when r.window_start + ${BUDGET_WINDOW_MS} <= ${now} then excluded.window_start else r.window_start end,
            count = case when r.window_start + ${BUDGET_WINDOW_MS} <= ${now} then excluded.count else r.count + excluded.count end
          returning key, window_start, count`)
        const sentCounts = new Map(sent.map(({ key, count }) => [key, count]))
        for (const row of rows) {
          const count = sentCounts.get(row.key)!
          count.windowStart = Number(row.window_start)
          count.shared = row.count
        }
      } catch (err) {
        // Counted again at the next sync; meanwhile the budgets hold per instance.
        for (const { count, delta } of sent) count.pending += delta
        throw err
      } finally {
        for (const { count } of sent) count.syncing = 0
      }
    }
    if (now - this.lastCleanup >= BUDGET_WINDOW_MS) {
      this.lastCleanup = now
      await this.db.delete(rateCounters).where(lt(rateCounters.windowStart, now - 10 * BUDGET_WINDOW_MS))
    }
  }
}

/** Every budget counts per minute: the window of every key. */
export const BUDGET_WINDOW_MS = 60_000
