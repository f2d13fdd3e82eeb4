// `npm start` as the README gives it: it builds the server into dist/ (tsc, types stripped) and runs that
// JavaScript on plain Node, with no TypeScript loader in the process and two malloc arenas.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { TEST_JWT_SECRET } from './helpers/app.ts'
import { registerUser } from './helpers/client.ts'
import { freePort } from './helpers/ports.ts'

const root = new URL('..', import.meta.url).pathname
// Building, then creating and migrating an embedded database: slow on a busy machine.
const START_MS = 240_000
t.setTimeout(600_000)

t.test('npm start builds dist/ and serves the API from it on the embedded database', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-start-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const port = await freePort()
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'info', NODE_OPTIONS: '' }
  delete env.DATABASE_URL
  // Its own process group: npm, the shell it runs scripts in and the server stop together.
  const child = spawn('npm', ['start'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  t.teardown(() => { try { process.kill(-child.pid!, 'SIGKILL') } catch {} })

  const deadline = Date.now() + START_MS
  let match: RegExpMatchArray | null = null
  while ((match = output.match(/Chat server listening on (http:\/\/\S+)/)) === null) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`npm start did not listen: ${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.equal(match[1], `http://127.0.0.1:${port}`, 'prints where it listens')
  t.ok(existsSync(join(root, 'dist/server.js')), 'the build is in dist/')

  const server = findServerProcess(child.pid!)
  t.ok(server !== undefined, 'the server process is found')
  t.same(server?.argv.slice(1), ['--heap-growing-percent=50', 'dist/server.js'], 'plain node runs the built JavaScript (no loader), its old generation grown by half at most')
  const environment = readFileSync(`/proc/${server!.pid}/environ`, 'utf8').split('\0')
  t.ok(environment.includes('MALLOC_ARENA_MAX=2'), 'with two malloc arenas')

  const health = await fetch(`http://127.0.0.1:${port}/health`)
  t.equal(health.status, 200)
  const user = await registerUser(`http://127.0.0.1:${port}`)
  const { data: me } = await user.api.GET('/users/me')
  t.equal(me?.username, user.username, 'a user registers and reads their profile')

  process.kill(server!.pid, 'SIGTERM')
  t.equal(await exited, 0, 'the server stops cleanly on SIGTERM, and npm start with it')
})

/** The node process under npm's process group running dist/server.js, with its command line. */
function findServerProcess (npmPid: number): { pid: number, argv: string[] } | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const processGroup = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])
      if (processGroup !== npmPid) continue
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean)
      if (argv.at(-1) === 'dist/server.js') return { pid: Number(entry), argv }
    } catch {}
  }
  return undefined
}
