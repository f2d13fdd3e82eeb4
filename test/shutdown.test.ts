// Stopping: app.close() ends open streams (even one whose client stopped reading) and resolves promptly;
// the real process stops on SIGTERM, ending streams cleanly and exiting 0 before close-with-grace's deadline.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createTestDatabase, startApp, TEST_JWT_SECRET } from './helpers/app.ts'
import { addContact, registerUser } from './helpers/client.ts'
import { connectSse, openStream } from './helpers/sse.ts'
import { freePort } from './helpers/ports.ts'

const LONG = 60_000

/** A raw connection, what it has received so far, and its end (the server closing it). */
async function rawConnection (t: Test, port: number): Promise<{ socket: Socket, received: () => string, ended: Promise<unknown> }> {
  const socket = connect(port, '127.0.0.1')
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  let received = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => { received += chunk })
  const ended = once(socket, 'end')
  ended.catch(() => {}) // (read by the tests that wait for it)
  return { socket, received: () => received, ended }
}

/** A raw connection with an event stream open on it (its headers received); the client never closes it. */
async function rawStream (t: Test, port: number, token: string): ReturnType<typeof rawConnection> {
  const connection = await rawConnection(t, port)
  connection.socket.write(`GET /events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n\r\n`)
  while (!connection.received().includes('\r\n\r\n')) await sleep(20)
  return connection
}

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
  // A client that reads its stream to the end but never closes the connection (as a keep-alive pool does)
  // must not hold the stop: the server closes the connection once the stream has ended.
  const lingering = await rawStream(t, port, alice.token)

  child.kill('SIGTERM')
  for (const stream of streams) await stream.ended
  t.ok(streams.every((stream) => stream.isEnded()), 'the open streams end')
  await lingering.ended
  t.match(lingering.received(), /^HTTP\/1\.1 200/, 'the lingering client had its stream')
  t.pass('the server closed the lingering connection')
  const { code, signal } = await exited
  t.equal(signal, null, 'not killed by the signal')
  t.equal(code, 0, `exits 0, before close-with-grace's timeout (output: ${output.trim().slice(-500)})`)
  t.notMatch(output, /killed by timeout|"level":50|"level":60/, 'no errors while stopping')
})

/**
 * A raw keep-alive connection with an upload in progress (its body half sent) when the server begins to stop;
 * `rest` is the rest of that body.
 */
async function uploadInProgressWhileStopping (t: Test): Promise<{ socket: Socket, received: () => string, rest: string, closing: Promise<void>, logLines: string[] }> {
  const logLines: string[] = []
  const { app, baseUrl } = await startApp(t, { logLevel: 'info', logStream: { write: (line) => { logLines.push(line) } } })
  const [alice, bob] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl)])
  await addContact(alice, bob)
  const { port } = new URL(baseUrl)
  const boundary = 'stopping-boundary'
  const body = `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="a.bin"\r\ncontent-type: application/octet-stream\r\n\r\n${'x'.repeat(4096)}\r\n--${boundary}--\r\n`
  const { socket, received } = await rawConnection(t, Number(port))
  socket.write(`POST /conversations/${bob.id}/files HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${alice.token}\r\ncontent-type: multipart/form-data; boundary=${boundary}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 100)}`)
  await sleep(200)
  const closing = app.close()
  await sleep(200)
  return { socket, received, rest: body.slice(100), closing, logLines }
}

t.test('a request that arrives while the server stops is 503 SERVICE_UNAVAILABLE in the error shape, with Retry-After', async (t) => {
  const { socket, received, rest, closing, logLines } = await uploadInProgressWhileStopping(t)
  // The rest of the upload in progress, and a second request pipelined behind it on the same connection.
  socket.write(`${rest}GET /limits HTTP/1.1\r\nhost: x\r\n\r\n`)
  await Promise.race([once(socket, 'end'), sleep(10_000)])
  socket.destroy()
  await closing
  const answers = received().split(/(?=HTTP\/1\.1 )/)
  t.equal(answers.length, 2, 'two answers')
  t.match(answers[0], /^HTTP\/1\.1 201/, 'the request already begun completes')
  t.match(answers[1], /^HTTP\/1\.1 503/, 'the one that arrived during the stop is refused')
  t.match(answers[1], /retry-after: \d+/i)
  const json = JSON.parse(answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4)) as { code: string, statusCode: number }
  t.match(json, { statusCode: 503, code: 'SERVICE_UNAVAILABLE' })
  const errors = logLines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50)
  t.same(errors, [], 'a refusal while stopping is expected, not logged as an error')
})

t.test('a response that completes after the stop began leaves no idle keep-alive connection behind', async (t) => {
  // A keep-alive client whose request is in progress when the stop begins, and that then just waits.
  const { socket, received, rest, closing } = await uploadInProgressWhileStopping(t)
  const ended = once(socket, 'end')
  socket.write(rest)
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    Promise.all([closing, ended]).then(() => 'closed'),
    new Promise((resolve) => { timer = setTimeout(resolve, 20_000, 'the idle connection still held the stop after 20 s') })
  ])
  clearTimeout(timer)
  t.match(received(), /^HTTP\/1\.1 201/, 'the request completes')
  t.equal(outcome, 'closed', 'the server closes the connection and app.close() resolves')
})

t.test('an event stream that ends closes its connection', async (t) => {
  const { baseUrl } = await startApp(t)
  const alice = await registerUser(baseUrl)
  const { received, ended } = await rawStream(t, Number(new URL(baseUrl).port), alice.token)
  t.match(received(), /^HTTP\/1\.1 200/)
  const logout = await fetch(`${baseUrl}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(logout.status, 204)
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    ended.then(() => 'closed'),
    new Promise((resolve) => { timer = setTimeout(resolve, 10_000, 'still open after 10 s') })
  ])
  clearTimeout(timer)
  t.match(received(), /event: session\.revoked/, 'the stream said why it ends')
  t.equal(outcome, 'closed', 'the server closes the connection (a client keeping it would hold a stopping server)')
})
