// R's in-process writer, a process of its own (started by receipts.ts over IPC): an instance of the app built by
// buildApp, as the server builds it (its database pool, its bus, its outbox), whose readers mark messages read by
// calling the messages service directly, with no HTTP in front. What it measures is the commit path of a
// notifying change (the transaction, its events, the bus notice), which HTTP's per-request work hides on 2 cores.
import { buildApp } from '../../../src/app.ts'
import { loadConfig } from '../../../src/config.ts'
import { readCpuMs } from '../lib/processes.ts'

export interface WriterSpec {
  env: Record<string, string>
  readers: Array<{ readerId: string, messageIds: string[] }>
  seconds: number
  warmupSeconds: number
}

export interface WriterResult {
  commitsPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  errors: number
  firstError?: string
  /** This process's CPU over the run, in cores. */
  cores: number
}

function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

async function run (spec: WriterSpec): Promise<WriterResult> {
  const app = await buildApp(loadConfig({ ...process.env, ...spec.env, LOG_LEVEL: 'warn' }))
  try {
    await app.ready()
    const { messages } = app.services
    const started = performance.now()
    const cpuBefore = readCpuMs(process.pid)
    const measureFrom = started + spec.warmupSeconds * 1000
    const measureTo = measureFrom + spec.seconds * 1000
    let committed = 0
    let errors = 0
    let firstError: string | undefined
    const latencies: number[] = []
    await Promise.all(spec.readers.map(async ({ readerId, messageIds }, i) => {
      for (const id of messageIds) {
        const sent = performance.now()
        if (sent >= measureTo) return
        let failure: string | undefined
        try {
          await messages.markRead(readerId, id)
        } catch (err) {
          failure = (err as Error).message
        }
        if (sent < measureFrom) continue
        if (failure === undefined) {
          committed++
          latencies.push(performance.now() - sent)
        } else {
          errors++
          firstError ??= failure
        }
      }
      throw new Error(`reader ${i} ran out of unread messages`)
    }))
    const wall = performance.now() - started
    latencies.sort((x, y) => x - y)
    return {
      commitsPerSec: committed / spec.seconds,
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP99Ms: percentile(latencies, 0.99),
      errors,
      ...(firstError === undefined ? {} : { firstError }),
      cores: (readCpuMs(process.pid) - cpuBefore) / wall
    }
  } finally {
    await app.close()
  }
}

process.on('message', (message: { run: WriterSpec }) => {
  run(message.run).then(
    (result) => process.send!({ result }, () => process.exit(0)),
    (err: Error) => process.send!({ error: err.stack ?? String(err) }, () => process.exit(1))
  )
})
