// C, idle streams: as many idle SSE connections as the box allows (up to BENCH_IDLE_STREAMS, 20,000), from a
// client process of its own, to a server with a short heartbeat; the server's memory per stream (VmRSS delta)
// and the CPU its heartbeats cost (utime + stime over heartbeat intervals).
import { execFileSync } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { Api } from '../lib/api.ts'
import { type StageContext, sleep } from '../lib/context.ts'
import { askChild, type Child, forkNode, readCpuMs, readRss, type Server, startChatServer } from '../lib/processes.ts'
import type { IdleOpened, IdleSpec } from './idle-client.ts'

const CLIENT_MODULE = fileURLToPath(new URL('./idle-client.ts', import.meta.url))
const USERS = 20
// File descriptors each process keeps for itself (database pool, listening socket, stdio, tsx...).
const FD_RESERVE = 200

export interface IdleResult {
  target: number
  opened: number
  failed: number
  firstError?: string
  openSeconds: number
  /** What capped the target: BENCH_IDLE_STREAMS or the open-files limit. */
  limitedBy: string
  users: number
  rssBeforeBytes: number
  rssAfterBytes: number
  rssPerStreamBytes: number
  streamsPerGiB: number
  heartbeatMs: number
  /** Server CPU over one heartbeat interval with no stream open, and with all open, in ms. */
  cpuPerIntervalIdleMs: number
  cpuPerIntervalMs: number
  /** Share of one core the heartbeats of all streams take. */
  heartbeatCoreShare: number
  /** Streams that received data (a heartbeat) during the measured intervals. */
  streamsPinged: number
  streamsClosedByServer: number
}

function warmStream (baseUrl: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL('/events', baseUrl), { agent: false, headers: { authorization: `Bearer ${token}` } }, (response) => {
      if (response.statusCode !== 200) {
        request.destroy()
        reject(new Error(`GET /events answered ${response.statusCode}`))
        return
      }
      response.setEncoding('latin1')
      let head = ''
      response.on('data', (chunk: string) => {
        head += chunk
        if (head.includes('event: ready')) {
          request.destroy()
          resolve()
        }
      })
    })
    request.on('error', reject)
  })
}

function hardFileLimit (): number {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim()
    return out === 'unlimited' ? 1_048_576 : Number(out)
  } catch {
    return 1024
  }
}

export async function runIdle (ctx: StageContext): Promise<IdleResult> {
  const { settings } = ctx
  const { heartbeatMs } = settings
  const limit = hardFileLimit()
  const target = Math.min(settings.idleStreams, limit - FD_RESERVE)
  const limitedBy = target < settings.idleStreams ? `open files (ulimit -Hn ${limit})` : 'BENCH_IDLE_STREAMS'
  let server: Server | undefined
  let client: Child | undefined
  let api: Api | undefined
  try {
    server = await startChatServer('server', {
      databaseUrl: ctx.db.url,
      jwtSecret: ctx.jwtSecret,
      dataDir: ctx.dataDir,
      nodeArgs: settings.serverNodeArgs,
      env: { SSE_HEARTBEAT_MS: String(heartbeatMs) }
    })
    api = new Api(server.url)
    const users = await api.registerMany('c', USERS)
    // Open and close one stream per user first, so the baseline already holds the code and per-user state the
    // first stream brings, and the delta is what each further stream costs.
    await Promise.all(users.map((user) => warmStream(server!.url, user.token)))
    await sleep(1000)
    const rssBefore = readRss(server.pid)
    const idle0 = readCpuMs(server.pid)
    await sleep(heartbeatMs)
    const cpuIdle = readCpuMs(server.pid) - idle0

    client = forkNode('idle client', CLIENT_MODULE)
    const spec: IdleSpec = {
      host: '127.0.0.1',
      port: server.port,
      tokens: users.map((user) => user.token),
      target,
      batch: 500,
      budgetMs: settings.idleOpenSeconds * 1000
    }
    ctx.log(`opening up to ${target} idle streams (${limitedBy})`)
    const { opened } = await askChild<{ opened: IdleOpened }>(client, { open: spec }, spec.budgetMs + 60_000)
    if (opened.opened === 0) throw new Error(`no stream opened: ${opened.firstError}`)
    // Let the opening's garbage be collected and the heartbeat timers settle before reading memory.
    await sleep(Math.max(2000, heartbeatMs))
    const rssSettled = readRss(server.pid)

    const intervals = 3
    await askChild(client, { markPings: true }, 10_000)
    const cpu0 = readCpuMs(server.pid)
    await sleep(heartbeatMs * intervals)
    const cpuBusy = (readCpuMs(server.pid) - cpu0) / intervals
    const pings = await askChild<{ pinged: number, closed: number }>(client, { countPings: true }, 10_000)
    // Garbage not yet collected inflates a single reading: take the lower of two, some seconds apart.
    const rssAfter = Math.min(rssSettled, readRss(server.pid))

    const perStream = (rssAfter - rssBefore) / opened.opened
    return {
      target,
      opened: opened.opened,
      failed: opened.failed,
      ...(opened.firstError === undefined ? {} : { firstError: opened.firstError }),
      openSeconds: opened.ms / 1000,
      limitedBy,
      users: USERS,
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      rssPerStreamBytes: perStream,
      streamsPerGiB: perStream > 0 ? 2 ** 30 / perStream : Infinity,
      heartbeatMs,
      cpuPerIntervalIdleMs: cpuIdle,
      cpuPerIntervalMs: cpuBusy,
      heartbeatCoreShare: Math.max(0, cpuBusy - cpuIdle) / heartbeatMs,
      streamsPinged: pings.pinged,
      streamsClosedByServer: pings.closed
    }
  } finally {
    await client?.stop()
    await api?.close()
    await server?.stop()
  }
}
