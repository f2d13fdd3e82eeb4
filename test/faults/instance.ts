// One server instance of the fault suite: a real `node --import tsx src/server.ts` process, started, killed and
// restarted by the suite, whose every exit is recorded and whose every log line must be JSON.
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'

export interface InstanceEnv {
  databaseUrl: string
  dataDir: string
  jwtSecret: string
}

export interface Exit {
  instance: string
  code: number | null
  signal: NodeJS.Signals | null
  expected: boolean
  at: number
}

// The start-up banner is plain text on purpose (for a person at a terminal); every other line is pino's JSON.
const BANNER = /^(|Chat server listening on .*|Swagger UI: .*|OpenAPI: .*)$/

export class Instance {
  private child: ChildProcess | undefined
  private expectExit = false
  readonly exits: Exit[] = []
  /** Lines on stdout or stderr that are not JSON log lines (a raw stack trace, a console message). */
  readonly strayLines: string[] = []
  /** Log lines at level error or above. */
  readonly errorLines: string[] = []
  private readonly recent: string[] = []

  constructor (readonly name: string, readonly port: number, private readonly env: InstanceEnv) {}

  get baseUrl (): string {
    return `http://127.0.0.1:${this.port}`
  }

  get running (): boolean {
    return this.child !== undefined
  }

  async start (): Promise<void> {
    this.expectExit = false
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: new URL('../..', import.meta.url),
      env: {
        ...process.env,
        DATABASE_URL: this.env.databaseUrl,
        DATA_DIR: this.env.dataDir,
        JWT_SECRET: this.env.jwtSecret,
        PORT: String(this.port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        // The suite's load is many times one person's: the budgets are out of its way.
        RATE_LIMIT_AUTH_PER_MINUTE: '100000',
        RATE_LIMIT_PER_MINUTE: '10000000',
        RATE_LIMIT_SENDS_PER_MINUTE: '10000000',
        SSE_HEARTBEAT_MS: '2000',
        NODE_ENV: ''
      },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    this.child = child
    const onLine = (stream: string) => (line: string) => {
      this.recent.push(`${stream}: ${line}`)
      if (this.recent.length > 40) this.recent.shift()
      let parsed: { level?: number } | undefined
      try {
        parsed = JSON.parse(line) as { level?: number }
      } catch {}
      if (parsed === undefined || typeof parsed !== 'object' || parsed === null) {
        if (stream === 'stderr' || !BANNER.test(line.trim())) this.strayLines.push(line)
      } else if ((parsed.level ?? 0) >= 50) {
        this.errorLines.push(line)
      }
    }
    createInterface({ input: child.stdout! }).on('line', onLine('stdout'))
    createInterface({ input: child.stderr! }).on('line', onLine('stderr'))
    child.once('exit', (code, signal) => {
      this.exits.push({ instance: this.name, code, signal, expected: this.expectExit, at: Date.now() })
      if (this.child === child) this.child = undefined
    })
    await this.waitHealthy(60_000)
  }

  /** Waits until GET /health answers 200; false if it did not within `ms`. */
  async waitHealthy (ms: number): Promise<boolean> {
    for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
      if (!this.running) throw new Error(`${this.name} exited while starting:\n${this.tail()}`)
      if (await this.healthy()) return true
    }
    return false
  }

  async healthy (): Promise<boolean> {
    try {
      const response = await fetch(`${this.baseUrl}/health`, { signal: AbortSignal.timeout(6000) })
      await response.arrayBuffer()
      return response.status === 200
    } catch {
      return false
    }
  }

  /** Sends a signal the suite means (kill -9, SIGTERM) and waits for the exit; answers it. */
  async kill (signal: NodeJS.Signals, ms = 20_000): Promise<Exit> {
    const child = this.child
    if (child === undefined) throw new Error(`${this.name} is not running`)
    this.expectExit = true
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill(signal)
    const outcome = await Promise.race([exited.then(() => 'exited'), sleep(ms, 'timeout')])
    if (outcome === 'timeout') {
      child.kill('SIGKILL')
      await exited
      throw new Error(`${this.name} did not exit within ${ms} ms of ${signal}`)
    }
    return this.exits.at(-1)!
  }

  tail (): string {
    return this.recent.join('\n')
  }

  async stop (): Promise<void> {
    if (this.child !== undefined) await this.kill('SIGTERM').catch(() => {})
  }
}
