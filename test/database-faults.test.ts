// A database that cannot be reached: requests that need it answer 503 DATABASE_UNAVAILABLE with Retry-After (never
// 500), /health answers 503 within its timeout, the server serves again once the database is back, and SIGTERM
// still stops the process cleanly (streams ended, exit 0, JSON logs only). PostgreSQL only: the app reaches
// the database through a TCP proxy the test closes.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createTestDatabase, startApp, TEST_JWT_SECRET, usingPostgres } from './helpers/app.ts'
import { addContact, registerUser } from './helpers/client.ts'
import { connectSse } from './helpers/sse.ts'
import { Proxy } from './helpers/tcp-proxy.ts'
import { freePort } from './helpers/ports.ts'

if (!usingPostgres) t.plan(0, 'PostgreSQL only (set DATABASE_URL)')

const LONG = 60_000

/** A test database reached through a proxy the test can close: the proxy, and the URL through it. */
async function proxiedDatabase (t: Parameters<typeof createTestDatabase>[0]): Promise<{ proxy: Proxy, url: string }> {
  const direct = new URL((await createTestDatabase(t))!)
  const proxy = await Proxy.create(Number(direct.port || 5432))
  t.teardown(() => proxy.close())
  const url = new URL(direct)
  url.port = String(proxy.port)
  return { proxy, url: url.toString() }
}

async function call (baseUrl: string, method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await response.text()
  let json: any
  try { json = JSON.parse(text) } catch {}
  return { status: response.status, retryAfter: response.headers.get('retry-after'), json }
}

if (usingPostgres) {
  t.test('database unreachable: 503 DATABASE_UNAVAILABLE with Retry-After, then served again once it is back', async (t) => {
    const { proxy, url } = await proxiedDatabase(t)
    const { baseUrl } = await startApp(t, { databaseUrl: url, healthTimeoutMs: 2000 })
    const alice = await registerUser(baseUrl)
    const bob = await registerUser(baseUrl)
    await addContact(alice, bob)
    t.equal((await call(baseUrl, 'GET', '/users/me', alice.token)).status, 200)

    await proxy.close()
    const answers = [
      await call(baseUrl, 'GET', '/users/me', alice.token),
      await call(baseUrl, 'POST', `/conversations/${bob.id}/messages`, alice.token, { content: 'while the database is down' }),
      await call(baseUrl, 'GET', `/conversations/${bob.id}/messages`, alice.token),
      await call(baseUrl, 'POST', '/auth/login', undefined, { username: alice.username, password: alice.password })
    ]
    for (const answer of answers) {
      t.equal(answer.status, 503, 'answers 503, not 500')
      t.match(answer.json, { statusCode: 503, code: 'DATABASE_UNAVAILABLE', error: 'Service Unavailable', message: String }, 'in the error shape')
      t.equal(answer.retryAfter, '1', 'with Retry-After')
    }
    const started = Date.now()
    const health = await call(baseUrl, 'GET', '/health')
    t.equal(health.status, 503, '/health answers 503')
    t.equal(health.json?.code, 'DATABASE_UNAVAILABLE')
    t.ok(Date.now() - started < 2000 + 1000, '/health answers within its timeout')

    await proxy.listen()
    const back = Date.now()
    let status = 0
    for (const deadline = Date.now() + 20_000; Date.now() < deadline && status !== 201; await sleep(50)) {
      status = (await call(baseUrl, 'POST', `/conversations/${bob.id}/messages`, alice.token, { content: 'the database is back' })).status
    }
    t.equal(status, 201, 'sends are accepted again once the database is back')
    t.comment(`served again ${Date.now() - back} ms after the database came back`)
    t.equal((await call(baseUrl, 'GET', '/health')).status, 200, '/health answers 200 again')
  })

  t.test('a stream that closes while the database is unreachable: its user goes offline once the database is back', async (t) => {
    const { proxy, url } = await proxiedDatabase(t)
    const { baseUrl } = await startApp(t, { databaseUrl: url, presenceRenewMs: 200 })
    const alice = await registerUser(baseUrl)
    const bob = await registerUser(baseUrl)
    await addContact(alice, bob)
    const bobOnline = async () => {
      const { json } = await call(baseUrl, 'GET', '/contacts', alice.token)
      return (json.contacts as Array<{ contactId: string, online: boolean }>).find((contact) => contact.contactId === bob.id)?.online
    }
    const stream = await connectSse(baseUrl, { token: bob.token })
    t.teardown(() => stream.close())
    await stream.waitForEvent('ready', LONG)
    t.equal(await bobOnline(), true, 'bob is online while his stream is open')

    await proxy.close()
    stream.close()
    await sleep(500) // the server sees the stream close, and cannot record it
    await proxy.listen()
    // Renewals resume (every 200 ms); while they failed, bob's row looked expired, which proves nothing.
    let renewed = false
    for (const deadline = Date.now() + 20_000; Date.now() < deadline && !renewed; await sleep(100)) {
      renewed = (await call(baseUrl, 'GET', '/health')).status === 200
    }
    await sleep(1500)
    const seen = []
    for (let i = 0; i < 3; i++, await sleep(300)) seen.push(await bobOnline())
    t.same(seen, [false, false, false], 'bob is offline once the database is back (the missed change is applied at the next renewal)')
  })

  t.test('SIGTERM with the database gone: streams end and the process exits 0 within the grace period, logging JSON only', async (t) => {
    const { proxy, url } = await proxiedDatabase(t)
    const dataDir = mkdtempSync(join(tmpdir(), 'chat-deaddb-'))
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
    const port = await freePort()
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: new URL('..', import.meta.url),
      env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, DATABASE_URL: url, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'warn', NODE_ENV: '' },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }))
    })
    t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
    for (const deadline = Date.now() + LONG; !stdout.includes('Chat server listening');) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start: ${stdout}${stderr}`)
      await sleep(50)
    }
    const baseUrl = `http://127.0.0.1:${port}`
    const alice = await registerUser(baseUrl)
    const stream = await connectSse(baseUrl, { token: alice.token })
    t.teardown(() => stream.close())
    await stream.waitForEvent('ready', LONG)

    await proxy.close()
    // Let the instance notice: its presence renewal and bus watchdog fail meanwhile, and must not stop it.
    await sleep(3000)
    t.equal(child.exitCode, null, 'still running with the database gone')
    const signalled = Date.now()
    child.kill('SIGTERM')
    await stream.ended
    t.ok(stream.isEnded(), 'the open stream ends')
    const { code, signal } = await exited
    const took = Date.now() - signalled
    t.equal(signal, null, 'not killed by the signal')
    t.equal(code, 0, `exits 0 (output: ${(stdout + stderr).trim().slice(-800)})`)
    t.ok(took < 10_000, `within the 10 s grace period (took ${took} ms)`)
    t.equal(stderr, '', 'nothing on stderr')
    const banner = /^(|Chat server listening on .*|Swagger UI: .*|OpenAPI: .*)$/
    const stray = stdout.split('\n').filter((line) => !banner.test(line.trim())).filter((line) => {
      try {
        JSON.parse(line)
        return false
      } catch {
        return true
      }
    })
    t.same(stray, [], 'every log line is JSON')
    t.notMatch(stdout, /killed by timeout|"level":60/, 'no timeout, nothing fatal')
  })
}
