// How long sessions live: a stream ends when its session expires (renewal keeps it open), SESSION_MAX_AGE_SECONDS
// bounds renewal, and revoked or expired session rows are pruned.
import { setTimeout as sleep } from 'node:timers/promises'
import { eq, sql } from 'drizzle-orm'
import tap from 'tap'
import { sessions } from '../src/db/schema.ts'
import { startApp } from './helpers/app.ts'
import { apiClient, registerUser, tokenClaims } from './helpers/client.ts'
import { openStream } from './helpers/sse.ts'

const sessionOf = (token: string): string => tokenClaims(token).sid

tap.test('a stream ends with session.revoked when its session expires', async (t) => {
  const { app, baseUrl } = await startApp(t, { streamSessionCheckMs: 100 })
  const user = await registerUser(baseUrl)
  const stream = await openStream(t, baseUrl, { token: user.token })
  const other = await registerUser(baseUrl)
  const kept = await openStream(t, baseUrl, { token: other.token })

  await app.db.update(sessions).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(sessions.id, sessionOf(user.token)))
  await stream.waitForEvent('session.revoked', 10_000)
  await stream.ended
  t.pass('the expired session\'s stream got session.revoked and ended')
  const { response } = await user.api.GET('/users/me')
  t.equal(response.status, 401, 'and its token is refused')
  await sleep(300)
  t.notOk(kept.isEnded(), 'a live session\'s stream stays open')
  t.notOk(kept.frames.some((frame) => frame.event === 'session.revoked'))
})

tap.test('renewing the token keeps the stream open past the first expiry; without renewal it ends', async (t) => {
  const { baseUrl } = await startApp(t, { tokenTtlSeconds: 4, streamSessionCheckMs: 100 })
  const user = await registerUser(baseUrl)
  const stream = await openStream(t, baseUrl, { token: user.token })
  let token = user.token
  for (let i = 0; i < 6; i++) {
    await sleep(1000)
    const { data, response } = await apiClient(baseUrl).POST('/auth/token-login', { body: { token } })
    t.equal(response.status, 200, `renewal ${i + 1}`)
    token = data!.token
  }
  t.notOk(stream.isEnded(), 'still open after 6 s, longer than the TTL')
  t.notOk(stream.frames.some((frame) => frame.event === 'session.revoked'))
  await stream.waitForEvent('session.revoked', 10_000)
  await stream.ended
  t.pass('ends once renewals stop')
})

tap.test('SESSION_MAX_AGE_SECONDS bounds a session however often it is renewed', async (t) => {
  const { app, baseUrl } = await startApp(t, { tokenTtlSeconds: 3600, sessionMaxAgeSeconds: 600 })

  const user = await registerUser(baseUrl)
  const [row] = await app.db.select().from(sessions).where(eq(sessions.id, sessionOf(user.token)))
  const lifetime = row!.expiresAt.getTime() - row!.createdAt.getTime()
  t.ok(lifetime <= 600_000 && lifetime > 590_000, `a new session lives the shorter of the TTL and the maximum age (${lifetime} ms)`)

  // Logged in 590 s ago: a renewal reaches only to 600 s after the login, not an hour on.
  await app.db.update(sessions).set({ createdAt: sql`now() - interval '590 seconds'` }).where(eq(sessions.id, sessionOf(user.token)))
  const renewed = await apiClient(baseUrl).POST('/auth/token-login', { body: { token: user.token } })
  t.equal(renewed.response.status, 200)
  const left = Date.parse(renewed.data!.expiresAt) - Date.now()
  t.ok(left <= 11_000 && left > 0, `renewed only up to the maximum age (${left} ms left)`)
  const claims = tokenClaims(renewed.data!.token)
  t.ok(claims.exp * 1000 - Date.now() <= 11_000, 'the token expires with it')

  // Past the maximum age a renewal is refused, even with the session's expiry still ahead.
  await app.db.update(sessions).set({ createdAt: sql`now() - interval '601 seconds'`, expiresAt: sql`now() + interval '1 hour'` })
    .where(eq(sessions.id, sessionOf(user.token)))
  const refused = await apiClient(baseUrl).POST('/auth/token-login', { body: { token: user.token } })
  t.equal(refused.response.status, 401)
  t.equal((refused.error as { code: string }).code, 'TOKEN_INVALID')
})

tap.test('revoked and expired sessions are pruned; live ones stay', async (t) => {
  const { app, baseUrl } = await startApp(t)
  const user = await registerUser(baseUrl)
  const revoked = await apiClient(baseUrl).POST('/auth/login', { body: { username: user.username, password: user.password } })
  await apiClient(baseUrl, revoked.data!.token).POST('/auth/logout')
  const expired = await apiClient(baseUrl).POST('/auth/login', { body: { username: user.username, password: user.password } })
  await app.db.update(sessions).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(sessions.id, sessionOf(expired.data!.token)))

  const pruned = await app.services.sessions.prune()
  t.ok(pruned >= 2, `pruned ${pruned}`)
  const left = await app.db.select({ id: sessions.id }).from(sessions).where(eq(sessions.userId, user.id))
  t.same(left.map((row) => row.id), [sessionOf(user.token)], 'only the live session is left')
  t.equal((await user.api.GET('/users/me')).response.status, 200, 'and it still works')
})
