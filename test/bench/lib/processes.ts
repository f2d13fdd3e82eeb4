// Child processes of the benchmark (servers under test, load generators): started with a watchdog that ends
// them if the runner dies, tracked so every one is stopped on exit or failure, and measured through /proc.
import { type ChildProcess, fork, type Serializable, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const WATCH = fileURLToPath(new URL('./parent-watch.mjs', import.meta.url))
const NODE_FLAGS = ['--import', 'tsx', '--import', WATCH]
/**
 * The chat server as `npm start` runs it (read from package.json: `VAR=value ... node [flags] dist/server.js`): the
 * JavaScript that `npm run build` wrote into dist/, with the start script's environment and Node flags.
 */
export const SERVER_COMMAND = startCommand()

function startCommand (): { env: Record<string, string>, args: string[] } {
  const { scripts } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } }
  const words = scripts.start.split(/\s+/)
  const node = words.indexOf('node')
  if (node < 0 || !words.slice(0, node).every((word) => /^[A-Z_]+=\S*$/.test(word))) throw new Error(`unexpected start script: ${scripts.start}`)
  return { env: Object.fromEntries(words.slice(0, node).map((word) => word.split('=') as [string, string])), args: words.slice(node + 1) }
}
// Raise the open-files limit of the child to the hard limit (each idle stream is a socket).
const RAISE_NOFILE = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"'

const children = new Set<ChildProcess>()
// The server's greeting for people, not worth echoing.
const BANNER = /^(Chat server listening on|Swagger UI:|OpenAPI:)/

export interface Child {
  name: string
  proc: ChildProcess
  pid: number
  /** The last lines the child printed, for error reports. */
  tail: string[]
  stop: (timeoutMs?: number) => Promise<void>
}

function track (name: string, proc: ChildProcess, echo: boolean): Child {
  children.add(proc)
  const tail: string[] = []
  let echoed = 0
  const onLine = (line: string) => {
    if (line.trim() === '') return
    tail.push(line)
    if (tail.length > 40) tail.shift()
    if (!echo || BANNER.test(line)) return
    if (echoed < 20) process.stderr.write(`  [${name}] ${line.length > 400 ? `${line.slice(0, 400)}...` : line}\n`)
    else if (echoed === 20) process.stderr.write(`  [${name}] (further output suppressed)\n`)
    echoed++
  }
  for (const stream of [proc.stdout, proc.stderr]) {
    if (stream === null) continue
    let buffered = ''
    stream.setEncoding('utf8')
    stream.on('data', (chunk: string) => {
      buffered += chunk
      let index: number
      while ((index = buffered.indexOf('\n')) >= 0) {
        onLine(buffered.slice(0, index))
        buffered = buffered.slice(index + 1)
      }
    })
  }
  proc.once('exit', () => children.delete(proc))
  return {
    name,
    proc,
    pid: proc.pid!,
    tail,
    stop: (timeoutMs = 10_000) => terminate(proc, timeoutMs)
  }
}

const stopping = new Map<ChildProcess, Promise<void>>()

/** SIGTERM, then SIGKILL after the timeout; once per process however often it is asked. */
function terminate (proc: ChildProcess, timeoutMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  let done = stopping.get(proc)
  if (done === undefined) {
    done = new Promise<void>((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs)
      proc.once('exit', () => {
        clearTimeout(timer)
        resolve()
      })
      proc.kill('SIGTERM')
    })
    stopping.set(proc, done)
  }
  return done
}

/**
 * Starts `node [node args] <script>` with the open-files limit raised (a script ending in .ts through tsx); output
 * goes to `tail`.
 */
export function spawnNode (name: string, args: string[], env: Record<string, string | undefined>, echo = true): Child {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env }
  // undefined removes a variable the runner has (DATABASE_URL for an embedded server).
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete merged[key]
  const flags = args.at(-1)?.endsWith('.ts') === true ? NODE_FLAGS : ['--import', WATCH]
  const proc = spawn('sh', ['-c', RAISE_NOFILE, 'sh', process.execPath, ...flags, ...args], {
    cwd: ROOT,
    env: merged,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  return track(name, proc, echo)
}

/** Starts a TypeScript module with an IPC channel (load generators); raises the open-files limit too. */
export function forkNode (name: string, modulePath: string): Child {
  const proc = fork(modulePath, [], {
    cwd: ROOT,
    execPath: 'sh',
    execArgv: ['-c', RAISE_NOFILE, 'sh', process.execPath, ...NODE_FLAGS],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced'
  })
  return track(name, proc, true)
}

/** Sends a child one IPC message and resolves with its answer; rejects on `{ error }`, its exit, or a timeout. */
export function askChild<T> (child: Child, message: Serializable, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`${child.name} did not answer within ${timeoutMs} ms:\n${child.tail.join('\n')}`)) }, timeoutMs)
    const onMessage = (reply: T & { error?: string }) => {
      cleanup()
      if (reply.error !== undefined) reject(new Error(`${child.name} failed: ${reply.error}`))
      else resolve(reply)
    }
    const onExit = (code: number | null) => { cleanup(); reject(new Error(`${child.name} exited (code ${code}):\n${child.tail.join('\n')}`)) }
    const cleanup = () => {
      clearTimeout(timer)
      child.proc.off('message', onMessage)
      child.proc.off('exit', onExit)
    }
    child.proc.on('message', onMessage)
    child.proc.once('exit', onExit)
    child.proc.send(message)
  })
}

/** Resolves with the first line matching `pattern`, or rejects when the child exits or time runs out. */
export function waitForLine (child: Child, pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const streams = [child.proc.stdout, child.proc.stderr].filter((s) => s !== null)
    let buffered = ''
    const onData = (chunk: string) => {
      buffered += chunk
      const match = buffered.match(pattern)
      if (match !== null) {
        cleanup()
        resolve(match)
      }
      if (buffered.length > 100_000) buffered = buffered.slice(-10_000)
    }
    const onExit = (code: number | null, signal: string | null) => {
      cleanup()
      reject(new Error(`${child.name} exited (code ${code}, signal ${signal}) before it was ready:\n${child.tail.join('\n')}`))
    }
    const timer = setTimeout(() => {
      cleanup()
      reject(new Error(`${child.name} was not ready after ${timeoutMs} ms:\n${child.tail.join('\n')}`))
    }, timeoutMs)
    const cleanup = () => {
      clearTimeout(timer)
      for (const s of streams) s.off('data', onData)
      child.proc.off('exit', onExit)
    }
    for (const s of streams) s.on('data', onData)
    child.proc.once('exit', onExit)
  })
}

export interface ServerOptions {
  /** undefined: the embedded database (PGlite) in dataDir. */
  databaseUrl: string | undefined
  jwtSecret: string
  dataDir: string
  nodeArgs?: string[]
  env?: Record<string, string>
}

export interface Server extends Child {
  url: string
  port: number
}

/** Starts the real chat server as `npm start` does (dist/, built by the run) on a free port of 127.0.0.1 and waits until it listens. */
export async function startChatServer (name: string, options: ServerOptions): Promise<Server> {
  const child = spawnNode(name, [...(options.nodeArgs ?? []), ...SERVER_COMMAND.args], {
    NODE_ENV: 'production',
    ...SERVER_COMMAND.env,
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: options.databaseUrl,
    DATA_DIR: options.dataDir,
    JWT_SECRET: options.jwtSecret,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    // Registering the benchmark's users would otherwise hit the per-IP limit of auth attempts.
    RATE_LIMIT_AUTH_PER_MINUTE: '1000000',
    // The benchmark measures the server, not its budgets: per-user request and send limits and the stream cap
    // (thousands of streams and sends for a handful of users) set out of the way.
    RATE_LIMIT_PER_MINUTE: '10000000',
    RATE_LIMIT_SENDS_PER_MINUTE: '10000000',
    MAX_STREAMS_PER_USER: '100000',
    ...options.env
  })
  try {
    // An embedded server creates and migrates its database first: seconds, more on a busy machine.
    const match = await waitForLine(child, /listening on (http:\/\/127\.0\.0\.1:(\d+))/, options.databaseUrl === undefined ? 180_000 : 60_000)
    return { ...child, url: match[1]!, port: Number(match[2]) }
  } catch (err) {
    await child.stop()
    throw err
  }
}

/** Stops every child still running: SIGTERM, then SIGKILL after the timeout. */
export async function stopAllChildren (timeoutMs = 10_000): Promise<void> {
  await Promise.all([...children].map((proc) => terminate(proc, timeoutMs)))
}

/** Last resort from a synchronous 'exit' handler. */
export function killAllChildrenNow (): void {
  for (const proc of children) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
  }
}

function readStatus (pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm'))
  if (match === null) throw new Error(`no ${field} for pid ${pid}`)
  return Number(match[1]) * 1024
}

/** Resident memory of a process, in bytes (VmRSS). */
export function readRss (pid: number): number {
  return readStatus(pid, 'VmRSS')
}

/** The highest resident memory of a process since it started, in bytes (VmHWM). */
export function readPeakRss (pid: number): number {
  return readStatus(pid, 'VmHWM')
}

/**
 * Samples the VmRSS of processes every `everyMs` until stopped, and answers the highest reading of each: the
 * peak during an interval (VmHWM would include the start-up and set-up before it).
 */
export function sampleRss (pids: number[], everyMs = 100): { stop: () => number[] } {
  const peaks = pids.map(() => 0)
  const sample = () => pids.forEach((pid, i) => {
    try {
      peaks[i] = Math.max(peaks[i]!, readRss(pid))
    } catch {} // the process is gone: keep what was read
  })
  sample()
  const timer = setInterval(sample, everyMs)
  return {
    stop: () => {
      clearInterval(timer)
      sample()
      return peaks
    }
  }
}

const CLOCK_TICKS = 100 // USER_HZ on Linux

/** CPU time a process has used (user + system), in milliseconds. */
export function readCpuMs (pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may contain spaces), closed by the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 1000 / CLOCK_TICKS
}
