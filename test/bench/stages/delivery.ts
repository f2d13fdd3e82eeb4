// D and D2, delivered messages: the real server in its own process (D2: two of them on one database, senders
// on the first, receivers' streams on the second; D2N: the same on the NATS bus), N sender/receiver pairs, and the load generator
// (delivery-load.ts) in a third process. Closed loop for the maximum, then open loop at half of it.
import { fileURLToPath } from 'node:url'
import { Api, type BenchUser } from '../lib/api.ts'
import type { StageContext } from '../lib/context.ts'
import { warmupSeconds } from '../lib/context.ts'
import { askChild, type Child, forkNode, readCpuMs, type Server, startChatServer } from '../lib/processes.ts'
import type { LoadResult, LoadSpec } from './delivery-load.ts'

const LOAD_MODULE = fileURLToPath(new URL('./delivery-load.ts', import.meta.url))

export interface DeliveryResult extends LoadResult {
  instances: number
  /** The bus between the instances. */
  bus: 'postgres' | 'nats'
  pairs: number
  mode: LoadSpec['mode']
  /** Average CPU each server used over the whole run (closed and open loop), in cores. */
  serverCores: number[]
}

interface Pairs {
  senders: BenchUser[]
  receivers: BenchUser[]
  mode: LoadSpec['mode']
}

// D2 reuses D's users (they live in the database both runs share).
let prepared: Pairs | undefined

async function preparePairs (api: Api, count: number, log: (message: string) => void): Promise<Pairs> {
  if (prepared !== undefined && prepared.senders.length === count) return prepared
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
  prepared = { senders, receivers, mode }
  return prepared
}

async function runLoad (child: Child, spec: LoadSpec, timeoutMs: number): Promise<LoadResult> {
  return (await askChild<{ result: LoadResult }>(child, { run: spec }, timeoutMs)).result
}

export async function runDelivery (ctx: StageContext, instances: 1 | 2, busUrl?: string): Promise<DeliveryResult> {
  const { settings } = ctx
  const servers: Server[] = []
  let load: Child | undefined
  let api: Api | undefined
  try {
    for (const name of instances === 1 ? ['server'] : ['server A', 'server B']) {
      servers.push(await startChatServer(name, {
        databaseUrl: ctx.db.url,
        jwtSecret: ctx.jwtSecret,
        dataDir: ctx.dataDir,
        nodeArgs: settings.serverNodeArgs,
        env: busUrl === undefined ? {} : { BUS_URL: busUrl }
      }))
    }
    api = new Api(servers[0]!.url)
    const pairs = await preparePairs(api, settings.pairs, ctx.log)
    const warmup = warmupSeconds(settings.seconds)
    const spec: LoadSpec = {
      sendUrl: servers[0]!.url,
      streamUrl: servers[servers.length - 1]!.url,
      pairs: pairs.senders.map((sender, i) => ({ senderToken: sender.token, receiverId: pairs.receivers[i]!.id, receiverToken: pairs.receivers[i]!.token })),
      mode: pairs.mode,
      connections: settings.connections,
      window: settings.window,
      seconds: settings.seconds,
      warmupSeconds: warmup,
      openFraction: 0.5,
      drainMs: 5000
    }
    load = forkNode('load generator', LOAD_MODULE)
    const cpuBefore = servers.map((server) => readCpuMs(server.pid))
    const started = performance.now()
    const result = await runLoad(load, spec, ((warmup + settings.seconds) * 2 + 2 * 5 + 90) * 1000)
    const wall = performance.now() - started
    return {
      ...result,
      instances,
      bus: busUrl === undefined ? 'postgres' : 'nats',
      pairs: settings.pairs,
      mode: pairs.mode,
      serverCores: servers.map((server, i) => (readCpuMs(server.pid) - cpuBefore[i]!) / wall)
    }
  } finally {
    await load?.stop()
    await api?.close()
    await Promise.all(servers.map((server) => server.stop()))
  }
}
