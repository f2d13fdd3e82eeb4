// Polling for a condition that becomes true asynchronously, and small helpers for expected id sequences.
import { setTimeout as sleep } from 'node:timers/promises'

/** Polls `check` every 25 ms until it is true; throws after `timeoutMs`. */
export async function until (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

/** The integers from `from` to `to`, both included. */
export function range (from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}
