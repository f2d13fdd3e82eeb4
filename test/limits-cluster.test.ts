// On PostgreSQL the per-user budgets and MAX_STREAMS_PER_USER hold across instances: what a user spends on one
// instance counts on the other (after the instances' sync: a second for budgets, a presence renewal for streams).
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { createTestDatabase, startApp, type TestApp, usingPostgres } from './helpers/app.ts'
import { registerUser, type TestUser } from './helpers/client.ts'
import { openStream } from './helpers/sse.ts'

const RENEW_MS = 200

if (!usingPostgres) {
  t.plan(0, 'several instances need PostgreSQL (PGlite serves one process): set DATABASE_URL')
} else {
  const databaseUrl = (await createTestDatabase(t))!
  const settings = { databaseUrl, presenceRenewMs: RENEW_MS, rateLimitPerMinute: 10, maxStreamsPerUser: 3 }
  const a = await startApp(t, settings)
  const b = await startApp(t, settings)
  const me = (on: TestApp, user: TestUser) => fetch(`${on.baseUrl}/users/me`, { headers: { authorization: `Bearer ${user.token}` } })

  t.test('RATE_LIMIT_PER_MINUTE counts a user\'s requests on every instance', async (t) => {
    const user = await registerUser(a.baseUrl)
    for (let i = 0; i < 6; i++) t.equal((await me(a, user)).status, 200, `request ${i + 1} on A`)
    await sleep(1500) // A adds its count to the shared row
    t.equal((await me(b, user)).status, 200, 'request 7 on B')
    await sleep(1500) // B adds its own and takes the cluster's total back
    const eighth = await me(b, user)
    t.equal(eighth.status, 200)
    t.equal(eighth.headers.get('ratelimit-remaining'), '2', 'B counts what A let through: 8 of 10')
    t.equal((await me(b, user)).status, 200)
    t.equal((await me(b, user)).status, 200)
    const over = await me(b, user)
    t.equal(over.status, 429, 'the 11th request in the minute, across both instances, is refused')
    t.equal(((await over.json()) as { code: string }).code, 'RATE_LIMITED')
    const other = await registerUser(b.baseUrl)
    t.equal((await me(b, other)).status, 200, 'another user has a budget of their own')
  })

  t.test('MAX_STREAMS_PER_USER counts a user\'s streams on every instance', async (t) => {
    const user = await registerUser(a.baseUrl)
    await openStream(t, a.baseUrl, { token: user.token })
    await openStream(t, a.baseUrl, { token: user.token })
    await sleep(RENEW_MS * 3) // A writes its count with its presence renewal
    const third = await openStream(t, b.baseUrl, { token: user.token })
    t.equal(third.status, 200, 'a third stream, on B')
    const fourth = await openStream(t, b.baseUrl, { token: user.token })
    t.equal(fourth.status, 429, 'a fourth, on B, is over the limit counted on both')
    t.match(JSON.parse(fourth.body ?? '{}'), { code: 'TOO_MANY_STREAMS' })
    const onA = await openStream(t, a.baseUrl, { token: user.token })
    await sleep(RENEW_MS * 3)
    t.equal(onA.status, 429, 'and so is one more on A')
  })
}
