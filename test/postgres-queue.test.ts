// postgres.js's pool keeps its connections in queues (open, busy, closed...) of src/queue.js. As of 3.4.9 a queue
// that is never emptied by its own shift kept a slot for every element ever shifted, and searched them all on
// each remove: with more connections open than queries in flight (any pool under moderate load), each query
// left a slot in the open queue, so the pool's memory and its CPU per query grew without bound. Fixed by
// patches/postgres+3.4.9.patch; no database needed.
import v8 from 'node:v8'
import vm from 'node:vm'
import t from 'tap'

interface Queue<T> {
  readonly length: number
  push: (x: T) => T
  shift: () => T | undefined
  remove: (x: T) => T | null
}

const sources = {
  'import (src/)': new URL('./queue.js', import.meta.resolve('postgres')).href,
  'require (cjs/src/)': new URL('../cjs/src/queue.js', import.meta.resolve('postgres')).href
}

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void

function heapUsed (): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

for (const [name, url] of Object.entries(sources)) {
  const { default: Queue } = await import(url) as { default: <T>(initial?: T[]) => Queue<T> }

  t.test(`${name}: a queue that never empties keeps no slot for what left it`, async (t) => {
    const connections = Array.from({ length: 10 }, (_, i) => ({ i }))
    const open = Queue(connections)
    // What the pool does for each query when a connection is idle: take the first open one, move it to busy
    // (which removes it from the queue it came from), and back to open when the query is done.
    const serve = (queries: number) => {
      for (let query = 0; query < queries; query++) {
        const connection = open.shift()!
        open.remove(connection)
        open.push(connection)
      }
    }
    serve(10_000)
    const before = heapUsed()
    serve(200_000)
    const grown = heapUsed() - before
    t.equal(open.length, 10)
    // (Unpatched: 8 bytes a query, and each query's remove searched every slot: 1.6 MB here, 80 MB after ten million.)
    t.ok(grown < 512 * 1024, `the queue grew by ${(grown / 1024).toFixed(0)} KiB over 200,000 queries`)
  })

  t.test(`${name}: first in, first out, and remove takes the element wherever it is`, async (t) => {
    const queue = Queue<number>()
    const model: number[] = []
    let next = 0
    let seed = 7
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647
    const mismatches: string[] = []
    for (let step = 0; step < 200_000 && mismatches.length === 0; step++) {
      const r = random()
      if (r < 0.45) model.push(queue.push(next++))
      else if (r < 0.85) {
        const [got, want] = [queue.shift(), model.shift()]
        if (got !== want) mismatches.push(`shift answered ${got} instead of ${want} at step ${step}`)
      } else {
        const x = Math.floor(random() * next)
        const at = model.indexOf(x)
        if (at >= 0) model.splice(at, 1)
        const got = queue.remove(x)
        if (got !== (at >= 0 ? x : null)) mismatches.push(`remove(${x}) answered ${got} at step ${step}`)
      }
      if (queue.length !== model.length) mismatches.push(`length ${queue.length} instead of ${model.length} at step ${step}`)
    }
    t.same(mismatches, [])
    t.end()
  })
}
