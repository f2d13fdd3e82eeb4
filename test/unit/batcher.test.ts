// Batcher alone: a lone item runs at once, items arriving meanwhile share the next batch, maxBatch and
// maxInFlight bound batches, one item's Error rejects only that item, a thrown batch rejects its items only.
import t from 'tap'
import { Batcher } from '../../src/lib/batcher.ts'

/** A `run` whose batches the test finishes by hand; it records every batch and the peak concurrency. */
function controlledRun () {
  const batches: number[][] = []
  const pending: Array<{ resolve: (results: Array<string | Error>) => void, reject: (err: unknown) => void }> = []
  let inFlight = 0
  let peak = 0
  const run = (items: number[]) => new Promise<Array<string | Error>>((resolve, reject) => {
    batches.push(items)
    inFlight++
    peak = Math.max(peak, inFlight)
    const settle = <A>(fn: (a: A) => void) => (a: A) => { inFlight--; fn(a) }
    pending.push({ resolve: settle(resolve), reject: settle(reject) })
  })
  /** Answers the oldest unfinished batch with `item -> "v<item>"`, or what `answer` returns. */
  const finishNext = async (answer = (item: number): string | Error => `v${item}`) => {
    const batch = batches[batches.length - pending.length]!
    pending.shift()!.resolve(batch.map(answer))
    await flush()
  }
  const failNext = async (err: unknown) => {
    pending.shift()!.reject(err)
    await flush()
  }
  return { run, batches, finishNext, failNext, peak: () => peak }
}

/** Lets promise callbacks (results delivered, next batch started) run. */
const flush = () => new Promise((resolve) => setImmediate(resolve))

t.test('a lone item runs at once; items arriving meanwhile go together in the next batch', async (t) => {
  const c = controlledRun()
  const batcher = new Batcher(c.run, { maxBatch: 100, maxInFlight: 1 })
  const first = batcher.submit(1)
  t.same(c.batches, [[1]], 'started without waiting for company')
  const rest = [2, 3, 4].map((item) => batcher.submit(item))
  t.same(c.batches, [[1]], 'nothing more starts while the only slot is busy')
  await c.finishNext()
  t.equal(await first, 'v1')
  t.same(c.batches, [[1], [2, 3, 4]], 'the waiting items form one batch, in submission order')
  await c.finishNext()
  t.same(await Promise.all(rest), ['v2', 'v3', 'v4'], 'each caller gets its own result')
})

t.test('maxBatch caps a batch; the rest waits for the next', async (t) => {
  const c = controlledRun()
  const batcher = new Batcher(c.run, { maxBatch: 2, maxInFlight: 1 })
  const all = [1, 2, 3, 4, 5, 6].map((item) => batcher.submit(item))
  await c.finishNext()
  await c.finishNext()
  await c.finishNext()
  await c.finishNext()
  t.same(c.batches, [[1], [2, 3], [4, 5], [6]])
  t.same(await Promise.all(all), ['v1', 'v2', 'v3', 'v4', 'v5', 'v6'])
})

t.test('maxInFlight batches run at once, never more', async (t) => {
  const c = controlledRun()
  const batcher = new Batcher(c.run, { maxBatch: 3, maxInFlight: 2 })
  const all = Array.from({ length: 10 }, (_, i) => batcher.submit(i))
  t.same(c.batches, [[0], [1]], 'two lone items each start a batch at once, the rest queue')
  await c.finishNext()
  t.same(c.batches, [[0], [1], [2, 3, 4]], 'a finished batch frees one slot for the next maxBatch items')
  await c.finishNext()
  await c.finishNext()
  await c.finishNext()
  await c.finishNext()
  t.same(c.batches, [[0], [1], [2, 3, 4], [5, 6, 7], [8, 9]])
  t.equal(c.peak(), 2, 'never more than maxInFlight batches in flight')
  t.same(await Promise.all(all), Array.from({ length: 10 }, (_, i) => `v${i}`))
})

t.test('an Error in the results rejects that item only', async (t) => {
  const c = controlledRun()
  const batcher = new Batcher(c.run, { maxBatch: 10, maxInFlight: 1 })
  const busy = batcher.submit(0)
  // Settled views taken at once: a rejection must have a handler before it happens.
  const items = Promise.allSettled([1, 2, 3].map((item) => batcher.submit(item)))
  await c.finishNext()
  await busy
  const refused = new Error('item 2 refused')
  await c.finishNext((item) => item === 2 ? refused : `v${item}`)
  const outcomes = await items
  t.same(outcomes, [
    { status: 'fulfilled', value: 'v1' },
    { status: 'rejected', reason: refused },
    { status: 'fulfilled', value: 'v3' }
  ])
  t.equal((outcomes[1] as PromiseRejectedResult).reason, refused, 'rejected with the very Error the batch answered')
})

t.test('a thrown batch rejects all of its items, and the batcher goes on with the next', async (t) => {
  const c = controlledRun()
  const batcher = new Batcher(c.run, { maxBatch: 2, maxInFlight: 1 })
  const busy = batcher.submit(0)
  const doomed = Promise.allSettled([1, 2].map((item) => batcher.submit(item)))
  const later = batcher.submit(3)
  await c.finishNext()
  t.equal(await busy, 'v0')
  const failure = new Error('connection lost')
  await c.failNext(failure)
  for (const outcome of await doomed) t.same(outcome, { status: 'rejected', reason: failure })
  t.same(c.batches, [[0], [1, 2], [3]], 'the next batch started after the failure freed the slot')
  await c.finishNext()
  t.equal(await later, 'v3')
  const afterwards = batcher.submit(4)
  t.same(c.batches.at(-1), [4], 'a lone item still runs at once')
  await c.finishNext()
  t.equal(await afterwards, 'v4')
})

t.test('a run that throws synchronously is a thrown batch too', async (t) => {
  const batcher = new Batcher<number, string>((items) => {
    if (items.includes(13)) throw new Error('unlucky')
    return Promise.resolve(items.map(String))
  }, { maxBatch: 10, maxInFlight: 1 })
  await t.rejects(batcher.submit(13), { message: 'unlucky' })
  t.equal(await batcher.submit(7), '7', 'still serving')
})
