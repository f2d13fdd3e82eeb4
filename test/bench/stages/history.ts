// Q, history reads: one conversation of BENCH_HISTORY_ROWS (1,000,000) messages written straight into the
// messages table, then GET /conversations/{peerId}/messages pages/s under autocannon for the newest page and
// for a deep page (`before` a message 90% of the way back).
import autocannon from 'autocannon'
import type postgres from 'postgres'
import { connectPostgres } from '../../../src/db/client.ts'
import { Api, type BenchUser } from '../lib/api.ts'
import { type StageContext, warmupSeconds } from '../lib/context.ts'
import { type Server, startChatServer } from '../lib/processes.ts'

export interface PageLoad {
  pagesPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  errors: number
}

export interface HistoryResult {
  rows: number
  seedSeconds: number
  connections: number
  first: PageLoad
  deep: PageLoad & { depth: number }
  /** Faster over slower of the two: within 2 is the target. */
  spread: number
}

export async function load (url: string, token: string, connections: number, seconds: number): Promise<PageLoad> {
  const options = { url, connections, pipelining: 1, headers: { authorization: `Bearer ${token}` } }
  await autocannon({ ...options, duration: warmupSeconds(seconds) })
  const result = await autocannon({ ...options, duration: seconds })
  return {
    pagesPerSec: result['2xx'] / result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    errors: result.errors + result.non2xx + result.timeouts
  }
}

export interface SeededConversation {
  reader: BenchUser
  peerId: string
  lo: string
  hi: string
  seedSeconds: number
}

/**
 * Registers two users through the API and writes a conversation of BENCH_HISTORY_ROWS messages between them
 * straight into the database (content "history message number <n>"). Shared by Q and S.
 */
export async function seedConversation (ctx: StageContext, sql: postgres.Sql, api: Api, prefix: string): Promise<SeededConversation> {
  const rows = ctx.settings.historyRows
  const [reader, peer] = await api.registerMany(prefix, 2)
  await api.addContact(reader!, peer!)
  const [a, b] = [reader!.id, peer!.id]
  const [lo, hi] = a < b ? [a, b] : [b, a]

  ctx.log(`seeding a conversation of ${rows.toLocaleString('en-US')} messages`)
  const seedStart = performance.now()
  // Rows come out of generate_series in order, so seq (the table's default) follows g. Alternating
  // senders, timestamps 10 ms apart, all read except the newest 20.
  await sql`
    insert into messages (id, sender_id, receiver_id, pair_lo, pair_hi, kind, content, created_at, read_at)
    select gen_random_uuid(),
           case when g % 2 = 0 then ${a}::uuid else ${b}::uuid end,
           case when g % 2 = 0 then ${b}::uuid else ${a}::uuid end,
           ${lo}::uuid, ${hi}::uuid, 'text', 'history message number ' || g,
           t, case when g <= ${rows - 20} then t end
    from generate_series(1, ${rows}::int) g,
         lateral (select now() - make_interval(secs => (${rows}::int - g) * 0.01) as t) ts
    order by g`
  const [lastRow] = await sql<Array<{ last: string }>>`select max(seq)::text as last from messages where pair_lo = ${lo} and pair_hi = ${hi}`
  const last = lastRow!.last
  await sql`
    insert into conversations (owner_id, peer_id, last_seq) values (${a}, ${b}, ${last}::bigint), (${b}, ${a}, ${last}::bigint)
    on conflict (owner_id, peer_id) do update set last_seq = excluded.last_seq`
  // As autovacuum would have long before in production: the trigram index's pending list merged (right after a bulk
  // insert every search scans it: seconds a page), the visibility map set, the statistics taken.
  await sql`vacuum (analyze) messages`
  const seedSeconds = (performance.now() - seedStart) / 1000
  ctx.log(`seeded in ${seedSeconds.toFixed(1)} s`)
  return { reader: reader!, peerId: b, lo, hi, seedSeconds }
}

export async function runHistory (ctx: StageContext): Promise<HistoryResult> {
  const { settings } = ctx
  const rows = settings.historyRows
  let server: Server | undefined
  let api: Api | undefined
  const sql = connectPostgres(ctx.db.url, { max: 1, onnotice: () => {} })
  try {
    server = await startChatServer('server', { databaseUrl: ctx.db.url, jwtSecret: ctx.jwtSecret, dataDir: ctx.dataDir, nodeArgs: settings.serverNodeArgs })
    api = new Api(server.url)
    const { reader, lo, hi, peerId: b, seedSeconds } = await seedConversation(ctx, sql, api, 'q')
    const depth = Math.floor(rows * 0.9)
    const [deepRow] = await sql<Array<{ id: string }>>`select id from messages where pair_lo = ${lo} and pair_hi = ${hi} order by seq desc offset ${depth} limit 1`
    const firstPath = `/conversations/${b}/messages`
    const deepPath = `${firstPath}?before=${deepRow!.id}`
    for (const path of [firstPath, deepPath]) {
      const check = await api.call('GET', path, undefined, reader.token)
      if (check.status !== 200 || !Array.isArray(check.json?.messages) || check.json.messages.length === 0) {
        throw new Error(`GET ${path}: ${check.status} ${JSON.stringify(check.json).slice(0, 200)}`)
      }
    }
    const first = await load(`${server.url}${firstPath}`, reader.token, settings.connections, settings.seconds)
    const deep = await load(`${server.url}${deepPath}`, reader.token, settings.connections, settings.seconds)
    const rates = [first.pagesPerSec, deep.pagesPerSec]
    return {
      rows,
      seedSeconds,
      connections: settings.connections,
      first,
      deep: { ...deep, depth },
      spread: Math.max(...rates) / Math.min(...rates)
    }
  } finally {
    await api?.close()
    await server?.stop()
    await sql.end({ timeout: 5 })
  }
}
