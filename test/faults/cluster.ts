// A throwaway PostgreSQL cluster for the fault suite: initdb/pg_ctl on a free port in a temp folder, run as the
// postgres user when we are root, so restarting it disturbs nothing else on the machine.
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import postgres from 'postgres'
import { freePort } from '../helpers/ports.ts'

function postgresBin (): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter((name) => existsSync(join(root, name, 'bin', 'initdb'))) : []
  if (versions.length === 0) throw new Error(`no PostgreSQL server binaries under ${root}/*/bin`)
  return join(root, versions.sort((a, b) => Number(b) - Number(a))[0]!, 'bin')
}

export class Cluster {
  readonly dir: string
  private readonly bin = postgresBin()
  private readonly asRoot = process.getuid?.() === 0

  private constructor (readonly port: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'chat-faults-pg-'))
  }

  static async create (): Promise<Cluster> {
    const cluster = new Cluster(await freePort())
    if (cluster.asRoot) {
      // initdb refuses to run as root: the cluster belongs to the postgres user.
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
      const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
      chownSync(cluster.dir, uid, gid)
      chmodSync(cluster.dir, 0o700)
    }
    cluster.run('initdb', ['-D', cluster.data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'])
    cluster.start()
    return cluster
  }

  get data (): string {
    return join(this.dir, 'data')
  }

  /** The URL of a database on this cluster, direct (not through the proxy). */
  url (database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  private run (tool: string, args: string[]): string {
    const command = join(this.bin, tool)
    const [file, argv] = this.asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]
    return execFileSync(file, argv, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 }).toString()
  }

  start (): void {
    // fsync off: the operating system never crashes under the suite, and stopping is always clean (-m fast).
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`
    this.run('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'server.log'), '-w', '-t', '30', '-o', options, 'start'])
  }

  /** A full restart: every connection is closed, the server is down for a moment, then accepts again. The server's
   * output goes to the log file (-l): a server holding our pipes would keep pg_ctl's caller waiting. */
  restart (): void {
    this.run('pg_ctl', ['-D', this.data, '-l', join(this.dir, 'server.log'), '-w', '-t', '30', '-m', 'fast', 'restart'])
  }

  /** Runs one statement on a short-lived connection of its own. */
  async sql<T extends Record<string, unknown>> (statement: string, database = 'postgres'): Promise<T[]> {
    const admin = postgres(this.url(database), { max: 1, onnotice: () => {}, connect_timeout: 10 })
    try {
      return [...await admin.unsafe<T[]>(statement)]
    } finally {
      await admin.end({ timeout: 1 })
    }
  }

  log (): string {
    try {
      return readFileSync(join(this.dir, 'server.log'), 'utf8')
    } catch {
      return ''
    }
  }

  destroy (): void {
    try {
      this.run('pg_ctl', ['-D', this.data, '-w', '-t', '30', '-m', 'immediate', 'stop'])
    } catch {}
    rmSync(this.dir, { recursive: true, force: true })
  }
}
