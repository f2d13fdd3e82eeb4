// Log lines at the most verbose level never carry a password, a hash, the Authorization header or the
// access_token query value, even when a database error is logged.
import { randomBytes } from 'node:crypto'
import { sql } from 'drizzle-orm'
import tap from 'tap'
import { redactUrl } from '../src/lib/log-safety.ts'
import { startApp } from './helpers/app.ts'
import { apiClient, uniqueName } from './helpers/client.ts'
import { connectSse } from './helpers/sse.ts'

tap.test('redactUrl removes every access_token value, however the name is written', async (t) => {
  t.equal(redactUrl('/events?access_token=abc'), '/events?access_token=[REDACTED]')
  t.equal(redactUrl('/events?lastEventId=3&access_token=abc&x=1'), '/events?lastEventId=3&access_token=[REDACTED]&x=1')
  t.equal(redactUrl('/events?access%5Ftoken=abc'), '/events?access%5Ftoken=[REDACTED]')
  t.equal(redactUrl('/events?ACCESS_TOKEN=abc&access_token=def'), '/events?ACCESS_TOKEN=[REDACTED]&access_token=[REDACTED]')
  t.equal(redactUrl('/events?access_token'), '/events?access_token=[REDACTED]')
  t.equal(redactUrl('/users?search=access_token'), '/users?search=access_token')
  t.equal(redactUrl('/health'), '/health')
})

tap.test('nothing secret reaches a log line', async (t) => {
  const lines: string[] = []
  const { app, baseUrl } = await startApp(t, { logLevel: 'trace', logStream: { write: (line) => { lines.push(line) } } })
  const anonymous = apiClient(baseUrl)
  const password = `pw-${randomBytes(8).toString('hex')}`
  const newPassword = `pw2-${randomBytes(8).toString('hex')}`
  const wrongPassword = `wrong-${randomBytes(8).toString('hex')}`
  const username = uniqueName('logged')
  const tokens = new Set<string>()

  const registered = await anonymous.POST('/auth/register', { body: { username, password, email: `${randomBytes(5).toString('hex')}@example.com` } })
  t.equal(registered.response.status, 201)
  const token = registered.data!.token
  tokens.add(token)
  const login = await anonymous.POST('/auth/login', { body: { username, password } })
  t.equal(login.response.status, 200)
  tokens.add(login.data!.token)
  t.equal((await anonymous.POST('/auth/login', { body: { username, password: wrongPassword } })).response.status, 401)
  t.equal((await anonymous.POST('/auth/register', { body: { username: uniqueName(), password, email: 'not an email' } })).response.status, 400)
  const malformed = await fetch(`${baseUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"username":"${username}","password":"${password}",}` })
  t.equal(malformed.status, 400)
  const renewed = await anonymous.POST('/auth/token-login', { body: { token } })
  t.equal(renewed.response.status, 200)
  tokens.add(renewed.data!.token)
  t.equal((await apiClient(baseUrl, token).GET('/users/me')).response.status, 200)
  t.equal((await fetch(`${baseUrl}/nope`, { headers: { authorization: `Bearer ${token}` } })).status, 404)
  t.equal((await fetch(`${baseUrl}/nope?access_token=${token}`)).status, 404)

  for (const query of [{ access_token: token }, { access_token: token, lastEventId: 'abc' }] as Array<Record<string, string>>) {
    const stream = await connectSse(baseUrl, { query })
    if (stream.status === 200) await stream.waitForEvent('ready')
    stream.close()
  }
  const encoded = await fetch(`${baseUrl}/events?access%5Ftoken=${token}`, { headers: { accept: 'text/event-stream' } })
  await encoded.body?.cancel()

  const changed = await apiClient(baseUrl, login.data!.token).PATCH('/users/me', { body: { password: newPassword, currentPassword: password } })
  t.equal(changed.response.status, 200)
  t.equal((await apiClient(baseUrl, login.data!.token).POST('/auth/logout')).response.status, 204)

  // A database failure on register: the failed insert's parameters include the new password's hash.
  await app.db.execute(sql`alter table users rename column email to email_renamed`)
  const broken = await anonymous.POST('/auth/register', { body: { username: uniqueName(), password, email: `${randomBytes(5).toString('hex')}@example.com` } })
  t.equal(broken.response.status, 500)
  t.same(broken.error, { statusCode: 500, code: 'INTERNAL_ERROR', error: 'Internal Server Error', message: 'Internal server error' }, 'the 500 is masked')
  await app.db.execute(sql`alter table users rename column email_renamed to email`)

  const log = lines.join('')
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, any>)
  t.ok(parsed.length > 20, `structured JSON lines (${parsed.length})`)
  t.ok(parsed.some((line) => typeof line.req?.url === 'string' && line.req.url.startsWith('/events?access_token=[REDACTED]')), 'the stream URL was logged, redacted')
  t.ok(parsed.some((line) => line.level >= 50 && line.err?.message?.includes('params: [REDACTED]')), 'the database error was logged, scrubbed')
  for (const [name, secret] of [['password', password], ['new password', newPassword], ['wrong password', wrongPassword], ['a hash', '$argon2']] as const) {
    t.notOk(log.includes(secret), `no ${name} in the log`)
  }
  for (const value of tokens) {
    t.notOk(log.includes(value), 'no token in the log')
    t.notOk(log.includes(value.split('.')[2]!), 'not even its signature')
  }
  t.notMatch(log, /Bearer /i, 'no Authorization header')
})

tap.test('a secret-named field is censored wherever a log call puts it', async (t) => {
  const lines: string[] = []
  const { app } = await startApp(t, { logLevel: 'info', logStream: { write: (line) => { lines.push(line) } } })
  const secrets = Object.fromEntries(['password', 'currentPassword', 'token', 'authorization', 'cookie'].map((key) => [key, `${key}-${randomBytes(8).toString('hex')}`]))
  app.log.info({ body: { ...secrets, username: 'kept' } }, 'a body logged by mistake')
  app.log.info({ headers: { authorization: secrets.authorization, cookie: secrets.cookie, accept: 'text/plain' } }, 'headers logged by mistake')
  app.log.child({ session: { token: secrets.token } }).info('a child logger with a secret binding')
  const parsed = lines.map((line) => JSON.parse(line) as Record<string, any>)
  const body = parsed.find((line) => line.msg === 'a body logged by mistake')
  t.same(body?.body, { password: '[REDACTED]', currentPassword: '[REDACTED]', token: '[REDACTED]', authorization: '[REDACTED]', cookie: '[REDACTED]', username: 'kept' })
  const headers = parsed.find((line) => line.msg === 'headers logged by mistake')
  t.same(headers?.headers, { authorization: '[REDACTED]', cookie: '[REDACTED]', accept: 'text/plain' })
  const child = parsed.find((line) => line.msg === 'a child logger with a secret binding')
  t.same(child?.session, { token: '[REDACTED]' })
  for (const secret of Object.values(secrets)) t.notOk(lines.join('').includes(secret), 'the secret is in no line')
})
