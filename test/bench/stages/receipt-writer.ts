// R's in-process writer, a process of its own (started by receipts.ts over IPC): an instance of the app built by
// buildApp, as the server builds it (its database pool, its bus, its outbox), whose readers mark messages read by
// calling the messages service directly, with no HTTP in front. What it measures is the commit path of a
// notifying change (the transaction, its events, the bus notice), which HTTP's per-request work hides on 2 cores.
import { buildApp } from '../../../src/app.ts'
import { loadConfig } from '../../../src/config.ts'
import { type ReadersOutcome, runReaders } from '../lib/measure.ts'
import { readCpuMs } from '../lib/processes.ts'

export interface WriterSpec {
  env: Record<string, string>
  readers: Array<{ readerId: string, messageIds: string[] }>
  seconds: number
  warmupSeconds: number
}

export interface WriterResult extends Omit<ReadersOutcome, 'succeeded'> {
  commitsPerSec: number
  /** This process's CPU over the run, in cores. */
  cores: number
}

async function run (spec: WriterSpec): Promise<WriterResult> {
  const app = await buildApp(loadConfig({ ...process.env, ...spec.env, LOG_LEVEL: 'warn' }))
  try {
    await app.ready()
    const { messages } = app.services
    const started = performance.now()
    const cpuBefore = readCpuMs(process.pid)
    const from = started + spec.warmupSeconds * 1000
    const { succeeded, ...latencyAndErrors } = await runReaders(spec.readers.map((reader) => reader.messageIds), { from, to: from + spec.seconds * 1000 }, async (i, id) => {
      try {
        await messages.markRead(spec.readers[i]!.readerId, id)
        return undefined
      } catch (err) {
        return (err as Error).message
      }
    })
    return {
      commitsPerSec: succeeded / spec.seconds,
      ...latencyAndErrors,
      cores: (readCpuMs(process.pid) - cpuBefore) / (performance.now() - started)
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
