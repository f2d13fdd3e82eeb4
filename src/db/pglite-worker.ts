// The worker thread that owns the embedded database (see pglite-thread.ts): opens PGlite in the directory it is
// given, then runs the protocol messages it is sent, one after another, and answers each with PGlite's raw output.
import { parentPort, workerData } from 'node:worker_threads'
import { PGlite } from '@electric-sql/pglite'
import { pg_trgm as pgTrgm } from '@electric-sql/pglite/contrib/pg_trgm'
import type { WorkerOptions, WorkerReply, WorkerRequest } from './pglite-thread.ts'

const port = parentPort!
const { dir, postgresqlconf, pgliteWasmModule, initdbWasmModule } = workerData as WorkerOptions
const pg = await PGlite.create(dir, { extensions: { pg_trgm: pgTrgm }, postgresqlconf, pgliteWasmModule, initdbWasmModule })

let queue = Promise.resolve()
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(() => handle(request))
})
port.postMessage({ id: 0 } satisfies WorkerReply)

async function handle (request: WorkerRequest): Promise<void> {
  try {
    if (request.message === undefined) {
      await pg.close()
      port.postMessage({ id: request.id } satisfies WorkerReply)
      port.close()
      return
    }
    const answer = await pg.execProtocolRaw(request.message)
    port.postMessage({ id: request.id, answer } satisfies WorkerReply, [answer.buffer as ArrayBuffer])
  } catch (err) {
    port.postMessage({ id: request.id, error: err instanceof Error ? err.message : String(err) } satisfies WorkerReply)
  }
}
