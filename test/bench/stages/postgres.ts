// P, the database baseline: single-row INSERTs shaped like a message row, one transaction each (autocommit),
// from 8 concurrent connections for a fixed time. The table copies `messages` (columns, defaults, indexes)
// and its foreign keys to users, so each insert costs what a message row costs.
import { randomUUID } from 'node:crypto'
import { connectPostgres } from '../../../src/db/client.ts'
import { type StageContext, warmupSeconds } from '../lib/context.ts'

const CONNECTIONS = 8

export interface PostgresResult {
  insertsPerSec: number
  connections: number
  seconds: number
  latencyP50Ms: number
  latencyP99Ms: number
}

export async function runPostgres (ctx: StageContext): Promise<PostgresResult> {
  const { settings } = ctx
  const sql = connectPostgres(ctx.db.url, { max: CONNECTIONS, onnotice: () => {} })
  try {
    await sql.unsafe(`
      drop table if exists bench_messages;
      create table bench_messages (like messages including all);
      alter table bench_messages
        add foreign key (sender_id) references users(id) on delete cascade,
        add foreign key (receiver_id) references users(id) on delete cascade,
        add foreign key (file_id) references files(id);
    `)
    const [a, b] = [randomUUID(), randomUUID()]
    for (const id of [a, b]) {
      await sql`insert into users (id, username, email, password_hash) values (${id}, ${`p_${id.slice(0, 8)}`}, ${`${id}@bench.example.com`}, 'x')`
    }
    const [lo, hi] = a < b ? [a, b] : [b, a]

    const warmup = warmupSeconds(settings.seconds) * 1000
    const start = performance.now()
    const measureFrom = start + warmup
    const end = measureFrom + settings.seconds * 1000
    let counted = 0
    const latencies: number[] = []
    let n = 0
    await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        const i = n++
        const sender = i % 2 === 0 ? a : b
        const receiver = sender === a ? b : a
        const t0 = performance.now()
        await sql`insert into bench_messages (id, sender_id, receiver_id, pair_lo, pair_hi, kind, content)
                  values (${randomUUID()}, ${sender}, ${receiver}, ${lo}, ${hi}, 'text', ${`bench message ${i}`})`
        const t1 = performance.now()
        if (t1 >= measureFrom && t1 <= end) {
          counted++
          latencies.push(t1 - t0)
        }
      }
    }))
    latencies.sort((x, y) => x - y)
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN
    return {
      insertsPerSec: counted / settings.seconds,
      connections: CONNECTIONS,
      seconds: settings.seconds,
      latencyP50Ms: at(0.5),
      latencyP99Ms: at(0.99)
    }
  } finally {
    await sql.unsafe('drop table if exists bench_messages').catch(() => {})
    await sql.end({ timeout: 5 })
  }
}
