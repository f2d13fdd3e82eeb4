// D and D2, delivered messages: the real server in its own process (D2: two of them on one database, senders
// on the first, receivers' streams on the second; D2N: the same on the NATS bus), N sender/receiver pairs, and the load generator
// (delivery-load.ts) in a third process. Closed loop for the maximum, then open loop at half of it.
import { fileURLToPath } from 'node:url'
import { Api, type BenchUser } from '../lib/api.ts'
import type { StageContext } from '../lib/context.ts'
import { warmupSeconds } from '../lib/context.ts'
import { askChild, type Child, forkNode, readCpuMs, readPeakRss, sampleRss, type Server, startChatServer } from '../lib/processes.ts'
import type { LoadResult, LoadSpec } from './delivery-load.ts'

const LOAD_MODULE = fileURLToPath(new URL('./delivery-load.ts', import.meta.url))

export interface DeliveryResult extends LoadResult {
  instances: number
  /** The bus between the instances. */
  bus: 'postgres' | 'nats'
  /** The open loop ran at half the closed loop's rate (not at a fixed one). */
  openAtHalfLoad: boolean
  pairs: number
  mode: LoadSpec['mode']
  /** Average CPU each server used over the whole run (closed and open loop), in cores. */
  serverCores: number[]
  /** Each server's highest VmRSS sampled during the load (closed and open loop), in bytes. */
  peakRssBytes: number[]
  /** Each server's VmHWM at the end (its peak since start, set-up included), in bytes. */
  hwmBytes: number[]
  /** When the load ran, on the monotonic clock in µs (what V8's CPU profiles are stamped with). */
  loadWindowUs: [number, number]
}

const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)

interface Pairs {
  senders: BenchUser[]
  receivers: BenchUser[]
  mode: LoadSpec['mode']
}

// D2 reuses D's users (they live in the database both runs share).
let prepared: Pairs | undefined

async function preparePairs (api: Api, count: number, log: (message: string) => void, reuse: boolean): Promise<Pairs> {
  if (reuse && prepared !== undefined && prepared.senders.length === count) return prepared
  log(`registering ${count * 2} users`)
  const users = await api.registerMany('d', count * 2)
  const senders = users.slice(0, count)
  const receivers = users.slice(count)
  // The sender has the receiver as a contact: enough for both to message each other.
  await Promise.all(senders.map((sender, i) => api.addContact(sender, receivers[i]!)))
  const probe = await api.call('POST', `/conversations/${receivers[0]!.id}/messages`, { content: 'probe' }, senders[0]!.token)
  let mode: LoadSpec['mode'] = 'message'
  if (probe.status === 404 && typeof probe.json?.message === 'string' && /route/i.test(probe.json.message)) {
    log('POST /conversations/{peerId}/messages does not exist yet: measuring PATCH /users/me (profile.updated) instead')
    mode = 'profile'
  } else if (probe.status !== 201 && probe.status !== 200) {
    throw new Error(`probe message: ${probe.status} ${JSON.stringify(probe.json)}`)
  }
  const pairs = { senders, receivers, mode }
  if (reuse) prepared = pairs
  return pairs
}

async function runLoad (child: Child, spec: LoadSpec, timeoutMs: number): Promise<LoadResult> {
  return (await askChild<{ result: LoadResult }>(child, { run: spec }, timeoutMs)).result
}

export interface DeliveryOptions {
  instances: 1 | 2
  /** The embedded database (PGlite) in a DATA_DIR of its own instead of the run's PostgreSQL database. */
  embedded?: { dataDir: string }
  /** The open loop at this fixed rate instead of half the closed loop's. */
  openRate?: number
  /** Called once the servers listen, before any set-up (E reads the fresh server's idle RSS there). */
  onStarted?: (servers: Server[]) => Promise<void>
  /** The bus between the instances (BUS_URL), when not the database's own. */
  busUrl?: string
}

export async function runDelivery (ctx: StageContext, { instances, embedded, openRate, onStarted, busUrl }: DeliveryOptions): Promise<DeliveryResult> {
  const { settings } = ctx
  const servers: Server[] = []
  let load: Child | undefined
  let api: Api | undefined
  try {
    for (const name of instances === 1 ? ['server'] : ['server A', 'server B']) {
      servers.push(await startChatServer(name, {
        databaseUrl: embedded === undefined ? ctx.db.url : undefined,
        jwtSecret: ctx.jwtSecret,
        dataDir: embedded?.dataDir ?? ctx.dataDir,
        nodeArgs: settings.serverNodeArgs,
        env: busUrl === undefined ? {} : { BUS_URL: busUrl }
      }))
    }
    await onStarted?.(servers)
    api = new Api(servers[0]!.url)
    const pairs = await preparePairs(api, settings.pairs, ctx.log, embedded === undefined)
    const warmup = warmupSeconds(settings.seconds)
    const spec: LoadSpec = {
      sendUrl: servers[0]!.url,
      streamUrl: servers[servers.length - 1]!.url,
      pairs: pairs.senders.map((sender, i) => ({ senderToken: sender.token, receiverId: pairs.receivers[i]!.id, receiverToken: pairs.receivers[i]!.token })),
      mode: pairs.mode,
      // A connection for every message in flight: with fewer, a send could wait in the generator's own pool, and
      // that wait was counted as the server's latency (closed-loop p99 / p50 2.3 with 100 connections, 1.8 with 160).
      connections: Math.max(settings.connections, settings.window),
      window: settings.window,
      seconds: settings.seconds,
      warmupSeconds: warmup,
      openFraction: 0.5,
      ...(openRate === undefined ? {} : { openRate }),
      serverPids: servers.map((server) => server.pid),
      drainMs: 5000
    }
    load = forkNode('load generator', LOAD_MODULE)
    const cpuBefore = servers.map((server) => readCpuMs(server.pid))
    const started = performance.now()
    const rss = sampleRss(servers.map((server) => server.pid))
    const loadFrom = monotonicUs()
    let result: LoadResult
    let peakRssBytes: number[]
    try {
      result = await runLoad(load, spec, ((warmup + settings.seconds) * 2 + 2 * 5 + 90) * 1000)
    } finally {
      peakRssBytes = rss.stop()
    }
    const loadWindowUs: [number, number] = [loadFrom, monotonicUs()]
    const wall = performance.now() - started
    return {
      ...result,
      instances,
      bus: busUrl === undefined ? 'postgres' : 'nats',
      openAtHalfLoad: openRate === undefined,
      pairs: settings.pairs,
      mode: pairs.mode,
      serverCores: servers.map((server, i) => (readCpuMs(server.pid) - cpuBefore[i]!) / wall),
      peakRssBytes,
      hwmBytes: servers.map((server) => readPeakRss(server.pid)),
      loadWindowUs
    }
  } finally {
    await load?.stop()
    await api?.close()
    await Promise.all(servers.map((server) => server.stop()))
  }
}
