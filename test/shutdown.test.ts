// Stopping: app.close() ends open streams (even one whose client stopped reading) and resolves promptly;
// the real process stops on SIGTERM, ending streams cleanly and exiting 0 before close-with-grace's deadline.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { createTestDatabase, startApp, TEST_JWT_SECRET } from './helpers/app.ts'
import { registerUser } from './helpers/client.ts'
import { connectSse, openStream } from './helpers/sse.ts'
import { freePort } from './helpers/ports.ts'

const LONG = 60_000

t.test('app.close() ends every stream, including a stalled one, and resolves', async (t) => {
  const { app, baseUrl } = await startApp(t, { sseStallTimeoutMs: 600_000 })
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  const reading = await openStream(t, baseUrl, { token: alice.token }, LONG)
  const stalled = await connectSse(baseUrl, { token: bob.token, paused: true })
  t.teardown(() => stalled.close())
  // Fill the stalled client's socket until the server cannot write to it any more.
  const big = 'x'.repeat(256 * 1024)
  const createdAt = new Date().toISOString()
  for (let i = 0; i < 40; i++) {
    await app.services.outbox.transaction(async (_tx, emit) => {
      emit(bob.id, 'profile.updated', { id: bob.id, username: bob.username, email: bob.email, avatarUrl: `https://example.com/${i}/${big}`, createdAt })
    })
  }
  const [server] = [...app.services.hubs.streamsOf(bob.id)]
  t.ok(server !== undefined && server.bufferedBytes > 0, 'the stalled stream has unsent bytes')

  let timer: NodeJS.Timeout | undefined
  const started = Date.now()
  const outcome = await Promise.race([
    app.close().then(() => 'closed'),
    new Promise((resolve) => { timer = setTimeout(resolve, 20_000, 'still waiting after 20 s') })
  ])
  clearTimeout(timer)
  t.equal(outcome, 'closed', 'app.close() resolves with streams open')
  t.comment(`closed in ${Date.now() - started} ms`)
  await reading.ended
  t.ok(reading.isEnded(), 'the reading client sees its stream end')
  t.ok(server!.closed, 'the stalled stream is closed')
})

t.test('SIGTERM: streams end, the process exits 0', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-sigterm-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const databaseUrl = await createTestDatabase(t)
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: new URL('..', import.meta.url),
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl ?? '',
      JWT_SECRET: TEST_JWT_SECRET,
      LOG_LEVEL: 'warn',
      NODE_ENV: ''
    },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }))
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const deadline = Date.now() + LONG
  while (!output.includes('Chat server listening')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start: ${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const baseUrl = `http://127.0.0.1:${port}`
  const alice = await registerUser(baseUrl)
  const streams = [await openStream(t, baseUrl, { token: alice.token }, LONG), await openStream(t, baseUrl, { token: alice.token }, LONG)]

  child.kill('SIGTERM')
  for (const stream of streams) await stream.ended
  t.ok(streams.every((stream) => stream.isEnded()), 'the open streams end')
  const { code, signal } = await exited
  t.equal(signal, null, 'not killed by the signal')
  t.equal(code, 0, `exits 0, before close-with-grace's timeout (output: ${output.trim().slice(-500)})`)
  t.notMatch(output, /killed by timeout|"level":50|"level":60/, 'no errors while stopping')
})
