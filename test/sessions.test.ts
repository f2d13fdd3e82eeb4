// Sessions as devices: listing them (with the login's User-Agent), revoking one or all others, revocation reaching
// REST and streams on every instance, and lastUsedAt written at most once a minute.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { eq, sql } from 'drizzle-orm'
import tap, { type Test } from 'tap'
import { sessions } from '../src/db/schema.ts'
import { createTestDatabase, startApp, type TestApp, usingPostgres } from './helpers/app.ts'
import { addContact, apiClient, type ApiClient, registerUser, type TestUser } from './helpers/client.ts'
import { connectSse, type SseConnection } from './helpers/sse.ts'

const LONG = 30_000

async function login (baseUrl: string, user: TestUser, userAgent: string): Promise<{ token: string, api: ApiClient }> {
  const { data, response } = await apiClient(baseUrl).POST('/auth/login', {
    body: { username: user.username, password: user.password },
    headers: { 'user-agent': userAgent }
  })
  if (data === undefined) throw new Error(`login failed: ${response.status}`)
  return { token: data.token, api: apiClient(baseUrl, data.token) }
}

async function stream (t: Test, baseUrl: string, token: string): Promise<SseConnection> {
  const connection = await connectSse(baseUrl, { token })
  t.teardown(() => connection.close())
  t.equal(connection.status, 200)
  await connection.waitForEvent('ready', LONG)
  return connection
}

async function until (check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + LONG
  while (!await check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

tap.test('sessions', async (t) => {
  const { app, baseUrl } = await startApp(t)

  t.test('GET /auth/sessions lists every login, newest first, the caller\'s marked current', async (t) => {
    const user = await registerUser(baseUrl)
    const phone = await login(baseUrl, user, 'ChatPhone/2.1 (Android 15)')
    const laptop = await login(baseUrl, user, 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0')
    const { data, response } = await phone.api.GET('/auth/sessions')
    t.equal(response.status, 200)
    const list = data!.sessions
    t.equal(list.length, 3, 'register and two logins')
    t.same(Object.keys(list[0]!).sort(), ['createdAt', 'current', 'expiresAt', 'id', 'lastUsedAt', 'userAgent'])
    t.same(list.map((s) => s.userAgent).slice(0, 2), ['Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0', 'ChatPhone/2.1 (Android 15)'], 'newest first, with the login\'s User-Agent')
    t.same(list.map((s) => s.current), [false, true, false], 'only the calling session is current')
    for (const session of list) {
      t.ok(Date.parse(session.expiresAt) > Date.now(), 'live')
      t.ok(Date.parse(session.lastUsedAt) >= Date.parse(session.createdAt) - 1000, 'lastUsedAt from creation on')
    }
    const fromLaptop = await laptop.api.GET('/auth/sessions')
    t.same(fromLaptop.data!.sessions.map((s) => s.current), [true, false, false])
    const other = await registerUser(baseUrl)
    t.equal((await other.api.GET('/auth/sessions')).data!.sessions.length, 1, 'only your own sessions')
  })

  t.test('a User-Agent is kept without control characters and cut at 512 code points; none is null', async (t) => {
    const user = await registerUser(baseUrl)
    const long = await login(baseUrl, user, 'x'.repeat(600))
    const list = (await long.api.GET('/auth/sessions')).data!.sessions
    t.equal(list[0]!.userAgent, 'x'.repeat(512))
    const response = await fetch(new URL('/auth/login', baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': '' },
      body: JSON.stringify({ username: user.username, password: user.password })
    })
    t.equal(response.status, 200)
    const { token } = await response.json() as { token: string }
    t.equal((await apiClient(baseUrl, token).GET('/auth/sessions')).data!.sessions[0]!.userAgent, null, 'an empty User-Agent is null')
  })

  t.test('revoking one device from another: its REST and stream stop, the others stay', async (t) => {
    const user = await registerUser(baseUrl)
    const phone = await login(baseUrl, user, 'phone')
    const laptop = await login(baseUrl, user, 'laptop')
    const phoneStream = await stream(t, baseUrl, phone.token)
    const laptopStream = await stream(t, baseUrl, laptop.token)
    const phoneId = (await phone.api.GET('/auth/sessions')).data!.sessions.find((s) => s.current)!.id
    t.equal((await laptop.api.DELETE('/auth/sessions/{sessionId}', { params: { path: { sessionId: phoneId } } })).response.status, 204)
    t.equal((await phone.api.GET('/users/me')).response.status, 401, 'the revoked device\'s token is 401 at once')
    await phoneStream.waitForEvent('session.revoked', LONG)
    await phoneStream.ended
    t.notOk(laptopStream.isEnded(), 'the revoking device\'s stream stays')
    t.equal((await laptop.api.GET('/users/me')).response.status, 200)
    t.notOk((await laptop.api.GET('/auth/sessions')).data!.sessions.some((s) => s.id === phoneId), 'gone from the list')
    const again = await laptop.api.DELETE('/auth/sessions/{sessionId}', { params: { path: { sessionId: phoneId } } })
    t.equal(again.response.status, 404, 'a revoked session is not found any more')
    t.equal((await apiClient(baseUrl).POST('/auth/token-login', { body: { token: phone.token } })).response.status, 401, 'nor can it be renewed')
  })

  t.test('revoking the current session is a logout', async (t) => {
    const user = await registerUser(baseUrl)
    const own = (await user.api.GET('/auth/sessions')).data!.sessions[0]!.id
    t.equal((await user.api.DELETE('/auth/sessions/{sessionId}', { params: { path: { sessionId: own } } })).response.status, 204)
    t.equal((await user.api.GET('/users/me')).response.status, 401)
  })

  t.test('DELETE /auth/sessions revokes every session but the current one', async (t) => {
    const user = await registerUser(baseUrl)
    const a = await login(baseUrl, user, 'a')
    const b = await login(baseUrl, user, 'b')
    const aStream = await stream(t, baseUrl, a.token)
    const keep = await stream(t, baseUrl, b.token)
    t.equal((await b.api.DELETE('/auth/sessions')).response.status, 204)
    t.equal((await a.api.GET('/users/me')).response.status, 401)
    t.equal((await user.api.GET('/users/me')).response.status, 401, 'the register session too')
    await aStream.waitForEvent('session.revoked', LONG)
    await aStream.ended
    t.notOk(keep.isEnded())
    const list = (await b.api.GET('/auth/sessions')).data!.sessions
    t.same(list.map((s) => [s.userAgent, s.current]), [['b', true]])
    t.equal((await b.api.DELETE('/auth/sessions')).response.status, 204, 'nothing left to revoke: still 204')
  })

  t.test('another user\'s session id is 404, and so is an unknown one; a malformed one is 400', async (t) => {
    const alice = await registerUser(baseUrl)
    const mallory = await registerUser(baseUrl)
    const aliceSession = (await alice.api.GET('/auth/sessions')).data!.sessions[0]!.id
    const theirs = await mallory.api.DELETE('/auth/sessions/{sessionId}', { params: { path: { sessionId: aliceSession } } })
    t.equal(theirs.response.status, 404)
    t.match(theirs.error, { code: 'SESSION_NOT_FOUND' })
    t.equal((await alice.api.GET('/users/me')).response.status, 200, 'alice is still signed in')
    t.equal((await mallory.api.DELETE('/auth/sessions/{sessionId}', { params: { path: { sessionId: randomUUID() } } })).response.status, 404)
    const bad = await mallory.api.DELETE('/auth/sessions/{sessionId}', { params: { path: { sessionId: 'not-a-uuid' } } })
    t.equal(bad.response.status, 400)
    t.equal((await apiClient(baseUrl).GET('/auth/sessions')).response.status, 401, 'needs a token')
  })

  t.test('lastUsedAt follows requests, written at most once a minute per session', async (t) => {
    const user = await registerUser(baseUrl)
    const device = await login(baseUrl, user, 'clock')
    const id = (await device.api.GET('/auth/sessions')).data!.sessions[0]!.id
    const lastUsed = async () => (await app.db.select({ at: sessions.lastUsedAt }).from(sessions).where(eq(sessions.id, id)))[0]!.at.getTime()
    // Age the row as if the session had been idle for two hours, then use it.
    const age = () => app.db.update(sessions).set({ lastUsedAt: sql`now() - interval '2 hours'` }).where(eq(sessions.id, id))
    // The list request's lastUsedAt write is batched and may land after a first age(): age until it sticks.
    await until(async () => {
      await age()
      await sleep(100)
      return Date.now() - await lastUsed() > 3600_000
    }, 'the session aged')
    const fresh = await login(baseUrl, user, 'another')
    // Its id from the token itself: no request may use the session before it is aged.
    const freshId = (JSON.parse(Buffer.from(fresh.token.split('.')[1]!, 'base64url').toString()) as { sid: string }).sid
    await app.db.update(sessions).set({ lastUsedAt: sql`now() - interval '2 hours'` }).where(eq(sessions.id, freshId))
    t.equal((await fresh.api.GET('/users/me')).response.status, 200)
    await until(async () => Date.now() - (await app.db.select({ at: sessions.lastUsedAt }).from(sessions).where(eq(sessions.id, freshId)))[0]!.at.getTime() < 60_000, 'a request moves lastUsedAt to now')
    // `device` was already used (its list request) within the minute: aged since, its next requests write nothing.
    for (let i = 0; i < 5; i++) t.equal((await device.api.GET('/users/me')).response.status, 200)
    await sleep(200)
    t.ok(Date.now() - await lastUsed() > 3600_000, 'no write within the minute of the last one')
    const renewed = await apiClient(baseUrl).POST('/auth/token-login', { body: { token: device.token } })
    t.equal(renewed.response.status, 200)
    t.ok(Date.now() - await lastUsed() < 60_000, 'a renewal is a use')
    const shown = (await fresh.api.GET('/auth/sessions')).data!.sessions.find((s) => s.id === id)!
    t.ok(Date.now() - Date.parse(shown.lastUsedAt) < 60_000, 'GET /auth/sessions shows it')
  })
})

const skip = usingPostgres ? false : 'several instances need PostgreSQL: set DATABASE_URL'

tap.test('a device revoked on one instance stops on the other: REST at once, its stream closed', { skip }, async (t) => {
  const databaseUrl = (await createTestDatabase(t))!
  const a: TestApp = await startApp(t, { databaseUrl })
  const b: TestApp = await startApp(t, { databaseUrl })
  const user = await registerUser(a.baseUrl)
  const peer = await registerUser(a.baseUrl)
  await addContact(user, peer)
  const phone = await login(b.baseUrl, user, 'phone on B')
  const laptop = await login(a.baseUrl, user, 'laptop on A')
  const phoneStream = await stream(t, b.baseUrl, phone.token)
  const laptopStream = await stream(t, b.baseUrl, laptop.token)
  const phoneId = (await phone.api.GET('/auth/sessions')).data!.sessions.find((s) => s.current)!.id
  t.equal((await laptop.api.DELETE('/auth/sessions/{sessionId}', { params: { path: { sessionId: phoneId } } })).response.status, 204, 'revoked through A')
  t.equal((await phone.api.GET('/users/me')).response.status, 401, 'its next request on B is 401')
  const send = await phone.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: peer.id } }, body: { content: 'after the revocation' } })
  t.equal(send.response.status, 401, 'and so is a text send on B')
  t.equal((await laptop.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: peer.id } } })).data?.messages.length, 0, 'nothing was stored')
  await phoneStream.waitForEvent('session.revoked', LONG)
  await phoneStream.ended
  t.notOk(laptopStream.isEnded())

  const tablet = await login(b.baseUrl, user, 'tablet on B')
  const tabletStream = await stream(t, b.baseUrl, tablet.token)
  t.equal((await laptop.api.DELETE('/auth/sessions')).response.status, 204, 'every other session, through A')
  t.equal((await tablet.api.GET('/users/me')).response.status, 401)
  await tabletStream.waitForEvent('session.revoked', LONG)
  await tabletStream.ended
  t.notOk(laptopStream.isEnded(), 'the current session\'s stream on B stays')
})
