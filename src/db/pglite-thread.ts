// The embedded database in a worker thread of its own (pglite-worker.ts), so that PostgreSQL's work in WebAssembly
// runs beside the HTTP server instead of in its turns: the main thread only writes protocol messages and reads the
// answers. Each request and answer is one message between the threads; their buffers are moved, not copied.
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { PgliteEngine } from './pglite-statements.ts'

export interface DatabaseOptions {
  dir: string
  postgresqlconf: string[]
}

/** A compiled WebAssembly.Module (TypeScript declares WebAssembly only with the DOM library, not used here). */
type WasmModule = object
declare const WebAssembly: { compile: (bytes: Uint8Array) => Promise<WasmModule> }

export interface WorkerOptions extends DatabaseOptions {
  pgliteWasmModule: WasmModule
  initdbWasmModule: WasmModule
}

let compiled: Promise<[WasmModule, WasmModule]> | undefined

/**
 * PGlite's two WebAssembly modules, compiled once per process and handed to each database thread: compiled in
 * each new thread, they took it about 1.5 s of CPU (the tests open many databases; a server opens one).
 */
function compiledModules (): Promise<[WasmModule, WasmModule]> {
  compiled ??= Promise.all(['@electric-sql/pglite/pglite.wasm', '@electric-sql/pglite/initdb.wasm'].map(async (name) =>
    await WebAssembly.compile(await readFile(fileURLToPath(import.meta.resolve(name)))))) as Promise<[WasmModule, WasmModule]>
  return compiled
}

/** A run of protocol messages to execute, or (without one) the request to close the database. */
export interface WorkerRequest {
  id: number
  message?: Uint8Array
}

/** Id 0 says the database is open. */
export interface WorkerReply {
  id: number
  answer?: Uint8Array
  error?: string
}

// The worker's script sits beside this module: the JavaScript of dist/ when built; TypeScript when run from the
// sources (tests, scripts), loaded through tsx, whose loader a worker thread of Node 20 does not inherit.
const FROM_SOURCES = import.meta.url.endsWith('.ts')
const WORKER_SCRIPT = new URL(`./pglite-worker${FROM_SOURCES ? '.ts' : '.js'}`, import.meta.url)

function startWorker (options: WorkerOptions): Worker {
  if (!FROM_SOURCES) return new Worker(WORKER_SCRIPT, { workerData: options })
  const load = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(WORKER_SCRIPT.href)}, ${JSON.stringify(import.meta.url)}))`
  return new Worker(load, { eval: true, workerData: options })
}

export class PgliteThread implements PgliteEngine {
  private readonly pending = new Map<number, { resolve: (reply: WorkerReply) => void, reject: (err: Error) => void }>()
  private nextId = 1
  /** Why requests fail from now on: the database was closed, or its thread ended. */
  private closed: Error | undefined

  private constructor (private readonly worker: Worker) {
    worker.on('message', (reply: WorkerReply) => {
      const request = this.pending.get(reply.id)
      if (request === undefined) return
      this.pending.delete(reply.id)
      if (this.pending.size === 0) worker.unref()
      request.resolve(reply)
    })
    const end = (err: Error) => {
      this.closed ??= new Error('PGlite is closed', { cause: err })
      for (const request of this.pending.values()) request.reject(this.closed)
      this.pending.clear()
    }
    worker.on('error', end)
    worker.on('exit', (code) => end(new Error(`the database thread exited (code ${code})`)))
  }

  /** Opens the database in `dir` in a new thread; rejects with PGlite's error if it cannot. */
  static async open (options: DatabaseOptions): Promise<PgliteThread> {
    const [pgliteWasmModule, initdbWasmModule] = await compiledModules()
    const worker = startWorker({ ...options, pgliteWasmModule, initdbWasmModule })
    const thread = new PgliteThread(worker)
    try {
      await thread.request(0)
    } catch (err) {
      await worker.terminate()
      throw (err as Error).cause ?? err
    }
    return thread
  }

  async exec (message: Uint8Array): Promise<Uint8Array> {
    const reply = await this.request(this.nextId++, message)
    if (reply.error !== undefined) throw new Error(reply.error)
    return reply.answer!
  }

  async close (): Promise<void> {
    if (this.closed !== undefined) return
    try {
      await this.request(this.nextId++)
    } finally {
      this.closed ??= new Error('PGlite is closed')
      await this.worker.terminate()
    }
  }

  /** Sends a request (id 0: none, wait for the worker's first message) and waits for its reply. The worker keeps the process alive only while a request is pending. */
  private request (id: number, message?: Uint8Array): Promise<WorkerReply> {
    if (this.closed !== undefined) return Promise.reject(this.closed)
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.worker.ref()
      if (id !== 0) this.worker.postMessage({ id, message } satisfies WorkerRequest, message === undefined ? [] : [message.buffer as ArrayBuffer])
    })
  }
}
