// What the stages' own measuring loops share: percentiles, and R's readers working through their messages.

/** The value at quantile `q` of ascending `sorted` (NaN when empty). */
export function percentile (sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

export interface ReadersOutcome {
  /** Receipts that succeeded, started inside the measured interval. */
  succeeded: number
  latencyP50Ms: number
  latencyP99Ms: number
  errors: number
  firstError?: string
}

/**
 * Each reader marks its messages read one at a time (`markRead` answers an error's description, or undefined on
 * success) until the measured interval ends; only the receipts started inside it count.
 */
export async function runReaders (
  messageIds: string[][],
  interval: { from: number, to: number },
  markRead: (reader: number, messageId: string) => Promise<string | undefined>
): Promise<ReadersOutcome> {
  let succeeded = 0
  let errors = 0
  let firstError: string | undefined
  const latencies: number[] = []
  await Promise.all(messageIds.map(async (ids, reader) => {
    for (const id of ids) {
      const started = performance.now()
      if (started >= interval.to) return
      const error = await markRead(reader, id)
      if (started < interval.from) continue
      if (error === undefined) {
        succeeded++
        latencies.push(performance.now() - started)
      } else {
        errors++
        firstError ??= error
      }
    }
    throw new Error(`reader ${reader} ran out of unread messages: raise messagesPerPair in stages/receipts.ts`)
  }))
  latencies.sort((x, y) => x - y)
  return {
    succeeded,
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    errors,
    ...(firstError === undefined ? {} : { firstError })
  }
}
