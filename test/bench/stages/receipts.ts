// R, read receipts: unbatched notifying commits from many users. BENCH_RECEIPT_PAIRS sender/reader pairs, each
// reader marking its own unread messages read one by one (POST /messages/{id}/read: one transaction, two
// durable events and one bus notice each), half of the readers through instance A and half through B, the
// senders' streams held on both. Run once on the PostgreSQL bus (LISTEN/NOTIFY) and once on NATS (BUS_URL); then
// both again in-process (receipt-writer.ts: no HTTP, the commit path alone), B holding the streams.
import type postgres from 'postgres'
import { connectPostgres } from '../../../src/db/client.ts'
import { Pool } from 'undici'
import { Api, type BenchUser } from '../lib/api.ts'
import { type StageContext, sleep, warmupSeconds } from '../lib/context.ts'
import { runReaders } from '../lib/measure.ts'
import { askChild, forkNode, readCpuMs, type Server, startChatServer } from '../lib/processes.ts'
import type { WriterResult, WriterSpec } from './receipt-writer.ts'

const WRITER_MODULE = new URL('./receipt-writer.ts', import.meta.url).pathname

export interface ReceiptRun {
  bus: 'postgres' | 'nats'
  /** Receipts answered 200 per second in the measured interval: one commit each. */
  commitsPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  errors: number
  firstError?: string
  /** Average CPU of servers A and B over the run, in cores. */
  serverCores: number[]
}

export interface WriterRun extends WriterResult {
  bus: 'postgres' | 'nats'
  /** CPU of server B (holding the senders' streams) over the run, in cores. */
  streamServerCores: number
}

export interface ReceiptsResult {
  pairs: number
  postgres: ReceiptRun
  nats: ReceiptRun
  /** NATS over PostgreSQL commits/s. */
  natsOverPostgres: number
  /** The same receipts written in-process (no HTTP): the commit path alone. */
  writer: { postgres: WriterRun, nats: WriterRun, natsOverPostgres: number }
}

interface Pair { sender: BenchUser, reader: BenchUser }

let prepared: Pair[] | undefined

/** Enough unread messages per pair that no reader runs out within the run (at a generous rate). */
function messagesPerPair (seconds: number, pairs: number): number {
  return Math.ceil((20_000 * (seconds + warmupSeconds(seconds) + 2)) / pairs)
}

async function seed (sql: postgres.Sql, pairs: Pair[], perPair: number): Promise<string[][]> {
  const ids: string[][] = []
  for (const { sender, reader } of pairs) {
    const [lo, hi] = sender.id < reader.id ? [sender.id, reader.id] : [reader.id, sender.id]
    const rows = await sql<Array<{ id: string }>>`
      insert into messages (id, sender_id, receiver_id, pair_lo, pair_hi, kind, content)
      select gen_random_uuid(), ${sender.id}::uuid, ${reader.id}::uuid, ${lo}::uuid, ${hi}::uuid, 'text', 'receipt ' || g
      from generate_series(1, ${perPair}::int) g
      returning id`
    ids.push(rows.map((row) => row.id))
  }
  return ids
}

/** Holds the senders' event streams (they receive every receipt's event), reading and dropping the bytes. */
function holdStreams (urls: string[], users: BenchUser[], signal: AbortSignal): void {
  users.forEach((user, i) => {
    fetch(`${urls[i % urls.length]}/events`, { headers: { authorization: `Bearer ${user.token}` }, signal })
      .then((response) => response.body!.pipeTo(new WritableStream()))
      .catch(() => {})
  })
}

/** The environment that puts a server on `bus`. */
function busEnv (ctx: StageContext, bus: 'postgres' | 'nats'): Record<string, string> {
  return bus === 'nats' ? { BUS_URL: ctx.settings.busUrl } : {}
}

async function runOnBus (ctx: StageContext, bus: 'postgres' | 'nats', pairs: Pair[], messageIds: string[][]): Promise<ReceiptRun> {
  const { settings } = ctx
  const env = busEnv(ctx, bus)
  const servers: Server[] = []
  const pools: Pool[] = []
  const streams = new AbortController()
  try {
    for (const name of ['server A', 'server B']) {
      servers.push(await startChatServer(`${name} (${bus} bus)`, { databaseUrl: ctx.db.url, jwtSecret: ctx.jwtSecret, dataDir: ctx.dataDir, nodeArgs: settings.serverNodeArgs, env }))
    }
    holdStreams(servers.map((s) => s.url), pairs.map((pair) => pair.sender), streams.signal)
    await sleep(1000)
    for (const server of servers) pools.push(new Pool(server.url, { connections: Math.ceil(pairs.length / 2) }))
    const warmup = warmupSeconds(settings.seconds)
    const started = performance.now()
    const measureFrom = started + warmup * 1000
    const measureTo = measureFrom + settings.seconds * 1000
    const cpuBefore = servers.map((server) => readCpuMs(server.pid))
    const { succeeded, ...latencyAndErrors } = await runReaders(messageIds, { from: measureFrom, to: measureTo }, async (i, id) => {
      const response = await pools[i % 2]!.request({ method: 'POST', path: `/messages/${id}/read`, headers: { authorization: `Bearer ${pairs[i]!.reader.token}` } })
      const body = await response.body.text()
      return response.statusCode === 200 ? undefined : `${response.statusCode} ${body.slice(0, 200)}`
    })
    const wall = performance.now() - started
    return {
      bus,
      commitsPerSec: succeeded / settings.seconds,
      ...latencyAndErrors,
      serverCores: servers.map((server, i) => (readCpuMs(server.pid) - cpuBefore[i]!) / wall)
    }
  } finally {
    streams.abort()
    await Promise.all(pools.map((pool) => pool.close()))
    await Promise.all(servers.map((server) => server.stop()))
  }
}

/**
 * The receipts without HTTP: one instance built in a process of its own marks the messages read through its
 * messages service, while server B holds the senders' streams (every receipt's notice crosses to it).
 */
async function runWriterOnBus (ctx: StageContext, bus: 'postgres' | 'nats', pairs: Pair[], messageIds: string[][]): Promise<WriterRun> {
  const { settings } = ctx
  const env = { DATABASE_URL: ctx.db.url, JWT_SECRET: ctx.jwtSecret, DATA_DIR: ctx.dataDir, ...busEnv(ctx, bus) }
  const streams = new AbortController()
  const server = await startChatServer(`server B (${bus} bus)`, { databaseUrl: ctx.db.url, jwtSecret: ctx.jwtSecret, dataDir: ctx.dataDir, nodeArgs: settings.serverNodeArgs, env: busEnv(ctx, bus) })
  const writer = forkNode(`receipt writer (${bus} bus)`, WRITER_MODULE)
  try {
    holdStreams([server.url], pairs.map((pair) => pair.sender), streams.signal)
    await sleep(1000)
    const spec: WriterSpec = {
      env,
      readers: pairs.map(({ reader }, i) => ({ readerId: reader.id, messageIds: messageIds[i]! })),
      seconds: settings.seconds,
      warmupSeconds: warmupSeconds(settings.seconds)
    }
    const cpuBefore = readCpuMs(server.pid)
    const started = performance.now()
    const { result } = await askChild<{ result: WriterResult }>(writer, { run: spec }, (spec.seconds + spec.warmupSeconds + 120) * 1000)
    return { bus, ...result, streamServerCores: (readCpuMs(server.pid) - cpuBefore) / (performance.now() - started) }
  } finally {
    streams.abort()
    await writer.stop()
    await server.stop()
  }
}

export async function runReceipts (ctx: StageContext): Promise<ReceiptsResult> {
  const { settings } = ctx
  const count = settings.receiptPairs
  const sql = connectPostgres(ctx.db.url, { max: 1, onnotice: () => {} })
  try {
    if (prepared === undefined || prepared.length !== count) {
      const server = await startChatServer('server (setup)', { databaseUrl: ctx.db.url, jwtSecret: ctx.jwtSecret, dataDir: ctx.dataDir })
      const api = new Api(server.url)
      try {
        ctx.log(`registering ${count * 2} users`)
        const users = await api.registerMany('r', count * 2)
        prepared = users.slice(0, count).map((sender, i) => ({ sender, reader: users[count + i]! }))
      } finally {
        await api.close()
        await server.stop()
      }
    }
    const perPair = messagesPerPair(settings.seconds, count)
    const runs: ReceiptRun[] = []
    for (const bus of ['postgres', 'nats'] as const) {
      ctx.log(`seeding ${(perPair * count).toLocaleString('en-US')} unread messages; receipts on the ${bus} bus`)
      runs.push(await runOnBus(ctx, bus, prepared, await seed(sql, prepared, perPair)))
    }
    const writerRuns: WriterRun[] = []
    for (const bus of ['postgres', 'nats'] as const) {
      ctx.log(`seeding ${(perPair * count).toLocaleString('en-US')} unread messages; receipts written in-process on the ${bus} bus`)
      writerRuns.push(await runWriterOnBus(ctx, bus, prepared, await seed(sql, prepared, perPair)))
    }
    const [pg, nats] = runs as [ReceiptRun, ReceiptRun]
    const [writerPg, writerNats] = writerRuns as [WriterRun, WriterRun]
    return {
      pairs: count,
      postgres: pg,
      nats,
      natsOverPostgres: nats.commitsPerSec / pg.commitsPerSec,
      writer: { postgres: writerPg, nats: writerNats, natsOverPostgres: writerNats.commitsPerSec / writerPg.commitsPerSec }
    }
  } finally {
    await sql.end({ timeout: 5 })
  }
}
