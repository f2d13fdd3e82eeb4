// The NATS bus under faults, on a private nats-server: an instance killed between a commit and its publish
// loses no event for the others, NATS down at start is refused in one line, NATS lost while running keeps
// local delivery, and after it returns every stream has every event once, in order.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { connect } from '@nats-io/transport-node'
import t, { type Test } from 'tap'
import { BusUnavailableError } from '../src/bus/index.ts'
import { createTestDatabase, startApp, TEST_JWT_SECRET, type TestApp, usingPostgres } from './helpers/app.ts'
import { apiClient, registerUser, type TestUser } from './helpers/client.ts'
import { NatsServer, natsServerBin } from './helpers/nats-server.ts'
import { freePort } from './helpers/ports.ts'
import { connectSse, type ConnectOptions, type SseConnection } from './helpers/sse.ts'

const skip = !usingPostgres
  ? 'the NATS bus serves several instances on PostgreSQL: set DATABASE_URL'
  : natsServerBin === undefined ? 'nats-server is not installed (set NATS_SERVER_BIN)' : false
const ROOT = fileURLToPath(new URL('../', import.meta.url))
const LONG = 60_000
const SWEEP_MS = 200
/** How long a lost notice may delay an event on another instance: a few sweeps, with room for a loaded machine. */
const BOUND_MS = 10_000

async function open (t: Test, on: TestApp | string, user: TestUser, options: Omit<ConnectOptions, 'token'> = {}): Promise<SseConnection> {
  const stream = await connectSse(typeof on === 'string' ? on : on.baseUrl, { token: user.token, ...options })
  t.teardown(() => stream.close())
  t.equal(stream.status, 200, 'stream opened')
  await stream.waitForEvent('ready', LONG)
  return stream
}

async function until (check: () => boolean | Promise<boolean>, what: string, timeoutMs = LONG): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

async function avatar (baseUrl: string, user: TestUser, tag: string): Promise<void> {
  const { response } = await apiClient(baseUrl, user.token).PATCH('/users/me', { body: { avatarUrl: `https://example.com/${tag}` } })
  if (response.status !== 200) throw new Error(`PATCH ${response.status}`)
}

function range (from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

async function health (baseUrl: string): Promise<{ status: number, body: { bus?: { kind: string, connected: boolean } } }> {
  const response = await fetch(`${baseUrl}/health`)
  return { status: response.status, body: await response.json() as { bus?: { kind: string, connected: boolean } } }
}

interface ServerProcess {
  proc: ChildProcess
  baseUrl: Promise<string>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  output: () => string
}

/** The real server entry (src/server.ts) in a child process, as an operator starts it. */
function spawnServer (t: Test, env: Record<string, string>): ServerProcess {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-nats-'))
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, PORT: '0', DATA_DIR: dataDir, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })))
  const baseUrl = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const found = /Chat server listening on (http:\/\/\S+)/.exec(output)
      if (found !== null) resolve(found[1]!)
    }
    proc.stdout!.on('data', onData)
    proc.stderr!.on('data', onData)
    exited.then(() => reject(new Error(`server exited: ${output}`)), () => {})
  })
  baseUrl.catch(() => {})
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL')
      await exited
    }
    rmSync(dataDir, { recursive: true, force: true })
  })
  return { proc, baseUrl, exited, output: () => output }
}

t.test('NATS down at start: the server refuses in one line naming BUS_URL', { skip }, async (t) => {
  const closed = `nats://127.0.0.1:${await freePort()}`
  const databaseUrl = (await createTestDatabase(t))!
  await t.rejects(startApp(t, { databaseUrl, busUrl: closed }), BusUnavailableError, 'buildApp rejects')

  const server = spawnServer(t, { DATABASE_URL: databaseUrl, BUS_URL: closed })
  const { code } = await server.exited
  t.equal(code, 1, 'exit code 1')
  const lines = server.output().trim().split('\n')
  t.equal(lines.length, 1, 'one line')
  t.match(lines[0], /^chat-server: cannot reach the event bus at BUS_URL=nats:\/\/127\.0\.0\.1:\d+/, 'naming BUS_URL')
})

t.test('an instance killed between its commit and its publish: the others still get every event', { skip }, async (t) => {
  const nats = await NatsServer.start(t)
  const databaseUrl = (await createTestDatabase(t))!
  const settings = { databaseUrl, busUrl: nats.url, busSweepMs: SWEEP_MS }
  const a = await startApp(t, settings)
  const b = await startApp(t, settings)
  t.same((await health(a.baseUrl)).body.bus, { kind: 'nats', connected: true }, 'the apps run on NATS')
  const alice = await registerUser(a.baseUrl)
  const streams = [await open(t, a, alice), await open(t, b, alice)]

  // Every notice about alice that crosses the bus, seen from outside.
  const spy = await connect({ servers: nats.url })
  t.teardown(() => spy.close())
  const notices: unknown[] = []
  spy.subscribe(`chat.u.${alice.id}`, { callback: (_err, msg) => { notices.push(msg.json()) } })
  await spy.flush()

  await avatar(a.baseUrl, alice, 'before')
  for (const stream of streams) await stream.waitFor(() => stream.durable().length >= 1, LONG)
  await until(() => notices.length >= 1, 'the notice')
  t.equal(notices.length, 1, 'a committed event is announced on the user\'s subject')

  // A third instance, armed to kill itself (SIGKILL) right after a commit, before publishing its notice.
  const doomed = spawnServer(t, { DATABASE_URL: databaseUrl, BUS_URL: nats.url, CHAT_TEST_FAULT: 'kill-after-commit' })
  const doomedUrl = await doomed.baseUrl
  const answer = await avatar(doomedUrl, alice, 'last-words').then(() => 'answered', (err: Error) => err.message)
  t.not(answer, 'answered', `the request never got its answer (${answer})`)
  t.same(await doomed.exited, { code: null, signal: 'SIGKILL' }, 'the instance died by SIGKILL')
  t.equal((await apiClient(a.baseUrl, alice.token).GET('/users/me')).data!.avatarUrl, 'https://example.com/last-words', 'its change committed')

  const diedAt = Date.now()
  for (const [i, stream] of streams.entries()) {
    await stream.waitFor(() => stream.durable().length >= 2, BOUND_MS, `stream ${i}: the orphaned event within ${BOUND_MS} ms`)
  }
  t.ok(Date.now() - diedAt < BOUND_MS, 'within the bound')
  t.equal(notices.length, 1, 'no notice of it ever crossed the bus: the sweep found it in the events table')

  // And on: both instances write, every stream gets every id once, in order.
  for (let i = 0; i < 10; i++) await avatar((i % 2 === 0 ? a : b).baseUrl, alice, `after/${i}`)
  for (const [i, stream] of streams.entries()) {
    await stream.waitFor(() => stream.durable().length >= 12, LONG, `stream ${i}: every event`)
    t.same(stream.durable().map((e) => e.id), range(1, 12), `stream ${i}: ids 1..12 once, in order`)
  }
})

t.test('NATS lost while running: local streams keep getting events, the others catch up, nothing is lost', { skip }, async (t) => {
  const nats = await NatsServer.start(t)
  const databaseUrl = (await createTestDatabase(t))!
  const settings = { databaseUrl, busUrl: nats.url, busSweepMs: SWEEP_MS }
  const a = await startApp(t, settings)
  const b = await startApp(t, settings)
  const alice = await registerUser(a.baseUrl)
  const streams = [await open(t, a, alice), await open(t, b, alice)]

  // Both instances write all along, through the outage and the reconnect.
  let writing = true
  let written = 0
  const writers = [a, b].map(async (on, w) => {
    while (writing) {
      await avatar(on.baseUrl, alice, `${w}/${written}`)
      written++
      await sleep(20)
    }
  })
  await until(() => written >= 6, 'writes before the outage')

  await nats.stop()
  for (const on of [a, b]) {
    await until(async () => (await health(on.baseUrl)).body.bus?.connected === false, 'health to report the bus lost')
    const { status, body } = await health(on.baseUrl)
    t.equal(status, 200, 'the instance keeps serving (health 200)')
    t.same(body.bus, { kind: 'nats', connected: false })
  }
  const before = written
  await until(() => written >= before + 6, 'writes during the outage')
  const during = written
  for (const [i, stream] of streams.entries()) {
    await stream.waitFor(() => stream.durable().length >= during, BOUND_MS, `stream ${i}: the events written while NATS is down`)
  }
  t.pass('events reach streams on every instance while NATS is down (local at once, the other from the events table)')

  await nats.restart()
  for (const on of [a, b]) await until(async () => (await health(on.baseUrl)).body.bus?.connected === true, 'health to report the bus back')
  const back = written
  await until(() => written >= back + 6, 'writes after the reconnect')
  writing = false
  await Promise.all(writers)
  const total = written
  for (const [i, stream] of streams.entries()) {
    await stream.waitFor(() => stream.durable().length >= total, LONG, `stream ${i}: all ${total} events`)
    t.same(stream.durable().map((e) => e.id), range(1, total), `stream ${i}: every id once, in order`)
  }

  // Live again across instances: a logout on A closes the session's stream on B through the bus.
  t.equal((await alice.api.POST('/auth/logout')).response.status, 204)
  await streams[1]!.waitForEvent('session.revoked', LONG)
})
