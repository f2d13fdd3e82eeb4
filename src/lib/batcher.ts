// Group commit: requests that arrive while earlier batches are in flight are merged into the next batch,
// so under load many callers share one database round trip (or one transaction), and an idle system
// pays no added latency (a lone request runs at once).

export interface BatcherOptions {
  /** Largest batch handed to `run`. */
  maxBatch: number
  /** Batches allowed in flight at once. */
  maxInFlight: number
}

interface Pending<I, O> {
  item: I
  resolve: (value: O) => void
  reject: (reason: unknown) => void
}

export class Batcher<I, O> {
  private queue: Array<Pending<I, O>> = []
  private inFlight = 0

  /** `run` answers one result per item, in order: a value, or an Error to reject that item with. */
  constructor (private readonly run: (items: I[]) => Promise<Array<O | Error>>, private readonly options: BatcherOptions) {}

  submit (item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      this.drain()
    })
  }

  private drain (): void {
    while (this.inFlight < this.options.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch)
      this.inFlight++
      void this.execute(batch).finally(() => {
        this.inFlight--
        this.drain()
      })
    }
  }

  private async execute (batch: Array<Pending<I, O>>): Promise<void> {
    try {
      const results = await this.run(batch.map((pending) => pending.item))
      batch.forEach((pending, i) => {
        const result = results[i]
        if (result instanceof Error) pending.reject(result)
        else pending.resolve(result as O)
      })
    } catch (err) {
      for (const pending of batch) pending.reject(err)
    }
  }
}
