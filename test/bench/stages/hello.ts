// H, the platform baseline: requests/s of a Fastify hello world (own process) under autocannon.
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { type StageContext, warmupSeconds } from '../lib/context.ts'
import { spawnNode, waitForLine } from '../lib/processes.ts'

export interface HelloResult {
  reqPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  errors: number
  connections: number
  pipelining: number
  seconds: number
}

export async function runHello (ctx: StageContext): Promise<HelloResult> {
  const { settings } = ctx
  const server = spawnNode('hello', [fileURLToPath(new URL('./hello-server.ts', import.meta.url))], {})
  try {
    const [, url] = await waitForLine(server, /listening on (http:\/\/127\.0\.0\.1:\d+)/, 30_000)
    const options = { url: url!, connections: settings.connections, pipelining: settings.pipelining }
    await autocannon({ ...options, duration: warmupSeconds(settings.seconds) })
    const result = await autocannon({ ...options, duration: settings.seconds })
    if (result['2xx'] === 0) throw new Error(`hello server answered no 2xx (errors ${result.errors}, non-2xx ${result.non2xx})`)
    return {
      reqPerSec: result['2xx'] / result.duration,
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      errors: result.errors + result.non2xx + result.timeouts,
      connections: settings.connections,
      pipelining: settings.pipelining,
      seconds: result.duration
    }
  } finally {
    await server.stop()
  }
}
