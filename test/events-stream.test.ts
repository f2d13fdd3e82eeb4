// The event stream on one instance: format, auth, several streams, exact resume, ordering under concurrent
// and slow writers, resets after pruning, session revocation, a stalled reader, periodic pruning.
import { randomUUID } from 'node:crypto'
import { and, eq, lte, sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { events, instances, users } from '../src/db/schema.ts'
import { pruneEventsBefore } from '../src/features/events/repository.ts'
import { startApp, usingPostgres } from './helpers/app.ts'
import { apiClient, registerUser, type TestUser } from './helpers/client.ts'
import { connectSse, type ConnectOptions, openStream, type SseConnection } from './helpers/sse.ts'
import { range, until } from './helpers/wait.ts'

const { app, baseUrl, config } = await startApp(t, { sseHeartbeatMs: 200, sseStallTimeoutMs: 2000, pruneIntervalMs: 250, presenceRenewMs: 300 })

const LONG = 60_000

async function open (t: Test, user: TestUser, options: Omit<ConnectOptions, 'token'> = {}): Promise<SseConnection> {
  const stream = await openStream(t, baseUrl, { token: user.token, ...options }, LONG)
  t.equal(stream.status, 200, 'stream opened')
  return stream
}

/** Causes `n` profile.updated events of the user, one after the other; returns the avatar URLs set. */
async function cause (user: TestUser, n: number, tag = randomUUID()): Promise<string[]> {
  const urls: string[] = []
  for (let i = 0; i < n; i++) {
    const avatarUrl = `https://example.com/${tag}/${i}`
    const { response } = await user.api.PATCH('/users/me', { body: { avatarUrl } })
    if (response.status !== 200) throw new Error(`PATCH /users/me: ${response.status}`)
    urls.push(avatarUrl)
  }
  return urls
}

async function login (user: TestUser, password = user.password): Promise<string> {
  const { data, response } = await apiClient(baseUrl).POST('/auth/login', { body: { username: user.username, password } })
  if (data === undefined) throw new Error(`login: ${response.status}`)
  return data.token
}

t.test('format: retry first, then ready, heartbeats, SSE headers', async (t) => {
  const alice = await registerUser(baseUrl)

  // The raw bytes: `retry:` comes before anything else, `ready` has no id.
  const response = await fetch(`${baseUrl}/events`, { headers: { authorization: `Bearer ${alice.token}` } })
  const reader = response.body!.getReader()
  let text = ''
  while (!text.includes('event: ready\n') || !text.slice(text.indexOf('event: ready\n')).includes('\n\n')) {
    const { value, done } = await reader.read()
    if (done) break
    text += Buffer.from(value).toString('utf8')
  }
  await reader.cancel()
  t.match(text, new RegExp(`^retry: ${config.sseRetryMs}\\n\\nevent: ready\\ndata: \\{[^\\n]*\\}\\n\\n`), 'retry line, then the ready event without id')

  const stream = await connectSse(baseUrl, { token: alice.token })
  t.teardown(() => stream.close())
  t.equal(stream.status, 200)
  t.match(stream.headers['content-type'], /^text\/event-stream/)
  t.match(stream.headers['cache-control'], /no-cache/)
  t.equal(stream.headers['x-content-type-options'], 'nosniff')
  // Only what a stream needs: its header block is held as long as the connection.
  t.same(Object.keys(stream.headers).sort(), ['cache-control', 'connection', 'content-type', 'date', 'transfer-encoding', 'x-accel-buffering', 'x-content-type-options'])
  const ready = await stream.waitForEvent('ready')
  t.equal(stream.frames[0], ready, 'ready is the first event')
  t.equal(ready.id, undefined, 'ready has no id')
  t.same(JSON.parse(ready.data), { userId: alice.id, lastEventId: '0' })
  t.equal(stream.retry, config.sseRetryMs)
  await stream.waitFor(() => stream.comments.filter((c) => c === 'ping').length >= 2, 10_000, 'two heartbeats')

  await cause(alice, 3)
  const later = await open(t, alice)
  t.same(JSON.parse(later.frames[0]!.data), { userId: alice.id, lastEventId: '3' }, 'ready carries the newest event id')
  t.same(later.durable(), [], 'a stream without Last-Event-ID starts from now')
})

t.test('auth: 401 without a valid live session, header or access_token query', async (t) => {
  const alice = await registerUser(baseUrl)
  const expectError = async (options: ConnectOptions, status: number, code: string, what: string) => {
    const stream = await connectSse(baseUrl, options)
    t.equal(stream.status, status, what)
    t.match(stream.headers['content-type'], /^application\/json/, `${what}: JSON`)
    const body = JSON.parse(stream.body ?? '{}')
    t.match(body, { statusCode: status, code, error: String, message: String }, `${what}: error shape`)
  }
  await expectError({}, 401, 'AUTH_REQUIRED', 'no token')
  await expectError({ token: 'not-a-jwt' }, 401, 'TOKEN_INVALID', 'bad bearer token')
  await expectError({ query: { access_token: 'not-a-jwt' } }, 401, 'TOKEN_INVALID', 'bad access_token')
  await expectError({ query: { access_token: '' } }, 401, 'AUTH_REQUIRED', 'empty access_token')
  await expectError({ token: alice.token, lastEventId: 'abc' }, 400, 'VALIDATION_ERROR', 'Last-Event-ID not a number')
  await expectError({ token: alice.token, query: { lastEventId: '-1' } }, 400, 'VALIDATION_ERROR', 'lastEventId negative')
  await expectError({ token: alice.token, query: { lastEventId: '1'.repeat(20) } }, 400, 'VALIDATION_ERROR', 'lastEventId too long')

  const byQuery = await connectSse(baseUrl, { query: { access_token: alice.token } })
  t.teardown(() => byQuery.close())
  t.equal(byQuery.status, 200, 'access_token query works')
  t.same(JSON.parse((await byQuery.waitForEvent('ready')).data).userId, alice.id)

  const other = await login(alice)
  t.equal((await apiClient(baseUrl, other).POST('/auth/logout')).response.status, 204)
  await expectError({ token: other }, 401, 'TOKEN_INVALID', 'revoked token in the header')
  await expectError({ query: { access_token: other } }, 401, 'TOKEN_INVALID', 'revoked token in the query')
})

t.test('several streams of one user each get every event', async (t) => {
  const alice = await registerUser(baseUrl)
  const streams = [await open(t, alice), await open(t, alice), await open(t, alice, { query: { access_token: alice.token } })]
  const urls = await cause(alice, 4)
  for (const stream of streams) {
    await stream.waitFor(() => stream.durable().length >= 4, LONG, '4 events')
    t.same(stream.durable().map((e) => e.id), [1, 2, 3, 4])
    t.same(stream.durable().map((e) => e.event), Array(4).fill('profile.updated'))
    t.same(stream.durable().map((e) => e.data.avatarUrl), urls)
  }
})

t.test('resume: exactly the events missed, in order, then live ones (header and query)', async (t) => {
  const alice = await registerUser(baseUrl)
  const first = await open(t, alice)
  await cause(alice, 3)
  await first.waitFor(() => first.durable().length >= 3, LONG)
  const last = first.durable().at(-1)!.id
  first.close()

  const missed = await cause(alice, 5)
  const byHeader = await open(t, alice, { lastEventId: String(last) })
  const byQuery = await open(t, alice, { query: { lastEventId: String(last) } })
  const live = await cause(alice, 2)
  for (const stream of [byHeader, byQuery]) {
    await stream.waitFor(() => stream.durable().length >= 7, LONG, '7 events')
    t.same(JSON.parse(stream.frames[0]!.data), { userId: alice.id, lastEventId: String(last + 5) })
    t.same(stream.durable().map((e) => e.id), range(last + 1, last + 7), 'ids in order, none missing or repeated')
    t.same(stream.durable().map((e) => e.data.avatarUrl), [...missed, ...live])
    t.notOk(stream.frames.some((f) => f.event === 'reset'), 'no reset')
  }

  // The header wins over the query parameter.
  const both = await open(t, alice, { lastEventId: String(last + 6), query: { lastEventId: '0' } })
  await cause(alice, 1)
  await both.waitFor(() => both.durable().some((e) => e.id === last + 8), LONG)
  t.same(both.durable().map((e) => e.id), [last + 7, last + 8])
})

t.test('500 events from 10 concurrent writers arrive exactly once, in order, live and on replay', async (t) => {
  const alice = await registerUser(baseUrl)
  const live = await open(t, alice)
  const expected = new Set<string>()
  let midway: Promise<SseConnection> | undefined
  await Promise.all(range(0, 9).map(async (writer) => {
    for (let i = 0; i < 50; i++) {
      const avatarUrl = `https://example.com/${writer}/${i}`
      expected.add(avatarUrl)
      const { response } = await alice.api.PATCH('/users/me', { body: { avatarUrl } })
      if (response.status !== 200) throw new Error(`PATCH ${response.status}`)
      // A stream that replays from the start while the writers go on: the seam between replay and live.
      if (writer === 0 && i === 20) midway = open(t, alice, { lastEventId: '0' })
    }
  }))
  const replay = await open(t, alice, { lastEventId: '0' })
  for (const [name, stream] of [['live', live], ['replay then live', await midway!], ['replay', replay]] as const) {
    await stream.waitFor(() => stream.durable().length >= 500, LONG, `500 events on ${name}`)
    const got = stream.durable()
    t.same(got.map((e) => e.id), range(1, 500), `${name}: ids 1..500, each once, in order`)
    t.same(new Set(got.map((e) => e.data.avatarUrl)), expected, `${name}: every write's event`)
    for (const writer of range(0, 9)) {
      const mine = got.map((e) => e.data.avatarUrl as string).filter((url) => url.startsWith(`https://example.com/${writer}/`))
      t.same(mine, range(0, 49).map((i) => `https://example.com/${writer}/${i}`), `${name}: writer ${writer}'s events in its order`)
    }
  }
  // Nothing after the 500th: one more event arrives as 501, right after it.
  await cause(alice, 1)
  await live.waitFor(() => live.durable().length >= 501, LONG)
  t.same(live.durable().map((e) => e.id), range(1, 501))
})

t.test('streams opened while events are being written start with ready and get each event once', async (t) => {
  const alice = await registerUser(baseUrl)
  await open(t, alice) // the user's hub already exists: new streams join it while it forwards events
  let writing = true
  let written = 0
  const writer = (async () => {
    while (writing) {
      await cause(alice, 1)
      written++
    }
  })()
  const streams: Array<[SseConnection, number | undefined]> = []
  for (let i = 0; i < 20; i++) {
    await until(() => written > i * 2, 'the writer to make progress')
    const resumeAfter = i % 2 === 0 ? Math.max(0, written - 3) : undefined
    streams.push([await open(t, alice, resumeAfter === undefined ? {} : { lastEventId: String(resumeAfter) }), resumeAfter])
  }
  writing = false
  await writer
  for (const [i, [stream, resumeAfter]] of streams.entries()) {
    const ready = JSON.parse(stream.frames[0]!.data) as { lastEventId: string }
    t.equal(stream.frames[0]!.event, 'ready', `stream ${i}: ready comes first`)
    await stream.waitFor(() => stream.durable().at(-1)?.id === written, LONG, `stream ${i}: event ${written}`)
    const from = (resumeAfter ?? Number(ready.lastEventId)) + 1
    t.same(stream.durable().map((e) => e.id), range(from, written), `stream ${i}: every id after ${from - 1}, each once`)
  }
})

t.test('a writer that takes an id and commits late is never skipped', async (t) => {
  // Ids are taken in user-id order inside a transaction: the slow writer takes `early`'s next id, then waits
  // for `held`'s row, locked by a transaction the test controls. Writes to `early` queue behind it.
  const [a, b] = [await registerUser(baseUrl), await registerUser(baseUrl)]
  const [early, held] = a.id < b.id ? [a, b] : [b, a]
  await cause(early, 2)
  const live = await open(t, early)

  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let locked!: () => void
  const holding = new Promise<void>((resolve) => { locked = resolve })
  const holder = app.db.transaction(async (tx) => {
    await tx.select({ id: users.id }).from(users).where(eq(users.id, held.id)).for('update')
    locked()
    await gate
  })
  await holding
  const marker = randomUUID()
  const slow = app.services.outbox.transaction(async (_tx, emit) => {
    emit(early.id, 'contact.removed', { contactId: marker })
    emit(held.id, 'contact.removed', { contactId: marker })
  })
  const waiting = async (n: number) => {
    if (!usingPostgres) return true
    const rows = await app.db.execute(sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`) as unknown as Array<{ n: number }>
    return rows[0]!.n >= n
  }
  await until(() => waiting(1), 'the slow writer to take its id and wait')
  const fast = Promise.all(range(1, 5).map(() => cause(early, 1)))
  await until(() => waiting(3), 'fast writers to queue behind it')
  // A reader resuming now, while id 3 is taken but not committed.
  const resuming = connectSse(baseUrl, { token: early.token, lastEventId: '2' })
  release()
  await Promise.all([holder, slow, fast])
  const resumed = await resuming
  t.teardown(() => resumed.close())
  for (const [name, stream] of [['live', live], ['resumed', resumed]] as const) {
    await stream.waitFor(() => stream.durable().length >= 6, LONG, `6 events on ${name}`)
    t.same(stream.durable().map((e) => e.id), range(3, 8), `${name}: 3..8 in order, none skipped`)
    t.same(stream.durable()[0]!.data, { contactId: marker }, `${name}: the slow writer's event is 3`)
  }
  const after = await open(t, early, { lastEventId: '2' })
  await after.waitFor(() => after.durable().length >= 6, LONG)
  t.same(after.durable().map((e) => e.id), range(3, 8), 'replay has them too')
})

t.test('reset: resuming from before the oldest kept event, or from an unknown id', async (t) => {
  const alice = await registerUser(baseUrl)
  await cause(alice, 5)
  await app.db.update(events).set({ createdAt: new Date(Date.now() - 30 * 86400_000) })
    .where(and(eq(events.userId, alice.id), lte(events.id, 3)))
  await app.services.events.prune()
  const kept = await app.db.select({ id: events.id }).from(events).where(eq(events.userId, alice.id))
  t.same(kept.map((row) => row.id).sort(), [4, 5], 'events older than the retention are pruned')

  const expired = await open(t, alice, { lastEventId: '1' })
  await expired.waitForEvent('reset')
  t.same(expired.frames.slice(0, 2).map((f) => [f.event, f.id, JSON.parse(f.data)]), [
    ['ready', undefined, { userId: alice.id, lastEventId: '5' }],
    ['reset', undefined, { reason: 'expired' }]
  ])
  const exact = await open(t, alice, { lastEventId: '3' })
  const current = await open(t, alice, { lastEventId: '5' })
  const ahead = await open(t, alice, { lastEventId: '99' })
  await ahead.waitForEvent('reset')
  t.same(JSON.parse(ahead.frames[1]!.data), { reason: 'unknown' })

  await cause(alice, 1)
  for (const stream of [expired, current, ahead]) {
    await stream.waitFor(() => stream.durable().length >= 1, LONG)
    t.same(stream.durable().map((e) => e.id), [6], 'continues live')
  }
  await exact.waitFor(() => exact.durable().length >= 3, LONG)
  t.same(exact.durable().map((e) => e.id), [4, 5, 6], 'from just before the oldest kept: no reset')
  t.notOk(exact.frames.some((f) => f.event === 'reset'))
  t.notOk(current.frames.some((f) => f.event === 'reset'))

  // Every event pruned: a resume from before the newest is expired.
  await app.db.update(events).set({ createdAt: new Date(Date.now() - 30 * 86400_000) }).where(eq(events.userId, alice.id))
  await app.services.events.prune()
  const gone = await open(t, alice, { lastEventId: '4' })
  await gone.waitForEvent('reset')
  t.same(JSON.parse(gone.frames[1]!.data), { reason: 'expired' })
})

t.test('pruning runs periodically', async (t) => {
  const alice = await registerUser(baseUrl)
  await cause(alice, 3)
  await app.db.update(events).set({ createdAt: new Date(Date.now() - (config.eventsRetentionDays + 1) * 86400_000) })
    .where(and(eq(events.userId, alice.id), lte(events.id, 2)))
  const remaining = async () => (await app.db.select({ id: events.id }).from(events).where(eq(events.userId, alice.id))).map((row) => row.id)
  await until(async () => (await remaining()).length === 1, 'the periodic prune', 10_000)
  t.same(await remaining(), [3], 'only the old events are gone')
})

t.test('pruning deletes in batches until nothing old is left', async (t) => {
  const alice = await registerUser(baseUrl)
  await cause(alice, 7)
  // A day old: younger than the retention, so the periodic prune leaves them to this call.
  await app.db.update(events).set({ createdAt: new Date(Date.now() - 86400_000) }).where(and(eq(events.userId, alice.id), lte(events.id, 5)))
  t.equal(await pruneEventsBefore(app.db, new Date(Date.now() - 3600_000), 2), 5, 'five pruned, two at a time')
  const kept = await app.db.select({ id: events.id }).from(events).where(eq(events.userId, alice.id))
  t.same(kept.map((row) => row.id).sort(), [6, 7])
})

t.test('logout revokes that session\'s streams; a password change revokes the other sessions\'', async (t) => {
  const alice = await registerUser(baseUrl)
  const tokenB = await login(alice)
  const tokenC = await login(alice)
  const a1 = await open(t, alice)
  const a2 = await open(t, alice, { query: { access_token: alice.token } })
  const b = await openStream(t, baseUrl, { token: tokenB })
  const c = await openStream(t, baseUrl, { token: tokenC })

  t.equal((await alice.api.POST('/auth/logout')).response.status, 204)
  for (const stream of [a1, a2]) {
    const revoked = await stream.waitForEvent('session.revoked', LONG)
    t.same(JSON.parse(revoked.data), {})
    t.equal(revoked.id, undefined)
    await stream.ended
    t.ok(stream.isEnded(), 'the logged-out session\'s stream is closed')
  }
  await cause({ ...alice, api: apiClient(baseUrl, tokenB) }, 1)
  await b.waitFor(() => b.durable().length >= 1, LONG)
  await c.waitFor(() => c.durable().length >= 1, LONG)
  t.notOk(b.isEnded() || c.isEnded(), 'other sessions\' streams stay')

  const changed = await apiClient(baseUrl, tokenC).PATCH('/users/me', { body: { password: 'a brand new password', currentPassword: alice.password } })
  t.equal(changed.response.status, 200)
  await b.waitForEvent('session.revoked', LONG)
  await b.ended
  await c.waitFor(() => c.durable().length >= 2, LONG)
  t.equal(c.durable()[1]!.event, 'profile.updated')
  t.notOk(c.frames.some((f) => f.event === 'session.revoked'), 'the session that changed the password keeps its stream')
  t.notOk(c.isEnded())
})

t.test('streams opened while their session is being logged out all end', async (t) => {
  for (let round = 0; round < 5; round++) {
    const alice = await registerUser(baseUrl)
    const opening = Array.from({ length: 10 }, () => connectSse(baseUrl, { token: alice.token }))
    const logout = alice.api.POST('/auth/logout')
    const streams = await Promise.all(opening)
    t.equal((await logout).response.status, 204)
    for (const stream of streams) {
      t.teardown(() => stream.close())
      if (stream.status === 401) continue
      t.equal(stream.status, 200)
      await stream.waitFor(() => stream.isEnded(), 10_000, 'the stream of a logged-out session to end').catch(() => {})
      t.ok(stream.isEnded(), `round ${round}: no stream of the logged-out session stays open`)
    }
  }
})

t.test('a stalled reader is cut off while the server\'s buffer for it stays bounded', async (t) => {
  const alice = await registerUser(baseUrl)
  const paused = await connectSse(baseUrl, { token: alice.token, paused: true })
  t.teardown(() => paused.close())
  await until(() => [...app.services.hubs.streamsOf(alice.id)].length === 1, 'the stream to be attached')
  const [server] = [...app.services.hubs.streamsOf(alice.id)]
  const big = 'x'.repeat(256 * 1024)
  const createdAt = new Date().toISOString()
  let written = 0
  let maxBuffered = 0
  for (let i = 0; i < 64 && !server!.closed; i++) {
    await app.services.outbox.transaction(async (_tx, emit) => {
      emit(alice.id, 'profile.updated', { id: alice.id, username: alice.username, email: alice.email, avatarUrl: `https://example.com/${i}/${big}`, createdAt })
    })
    written += big.length
    maxBuffered = Math.max(maxBuffered, server!.bufferedBytes)
  }
  await until(() => server!.closed, 'the stalled stream to be closed', config.sseStallTimeoutMs + 30_000)
  t.ok(written >= 8 * 1024 * 1024, `wrote ${written} bytes of events`)
  t.ok(maxBuffered < 1024 * 1024, `server-side buffer stayed bounded (max ${maxBuffered} bytes)`)
  t.same([...app.services.hubs.streamsOf(alice.id)], [], 'the stream is gone from the hub')

  // The client resumes by id and gets the rest.
  paused.response.resume()
  await paused.ended
  const got = paused.durable().map((e) => e.id)
  t.same(got, range(1, got.length), 'what arrived before the cut is in order')
  const total = (await app.db.select({ id: events.id }).from(events).where(eq(events.userId, alice.id))).length
  // (A test process starved by a busy machine may read the 16 MiB too slowly and be cut as stalled again: it then
  // resumes again, as any client does.)
  const rest: number[] = []
  for (let attempt = 0; rest.length < total - got.length && attempt < 5; attempt++) {
    const resumed = await open(t, alice, { lastEventId: String(rest.at(-1) ?? got.at(-1) ?? 0) })
    // Counts frames without parsing them: durable() parses every frame's JSON, on each chunk of a 16 MiB replay.
    await resumed.waitFor((frames) => frames.filter((frame) => frame.id !== undefined).length >= total - got.length - rest.length, LONG).catch(() => {})
    rest.push(...resumed.durable().map((e) => e.id))
    resumed.close()
  }
  t.same(rest, range(got.length + 1, total), 'the rest on resume')
})

t.test('an instance whose presence was swept while it lived (a long pause) re-asserts it', async (t) => {
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  t.equal((await alice.api.POST('/contacts', { body: { userId: bob.id } })).response.status, 201)
  const watcher = await open(t, alice)
  await open(t, bob)
  t.same(JSON.parse((await watcher.waitForEvent('presence', LONG)).data), { userId: bob.id, online: true })
  const online = async () => (await alice.api.GET('/users/{id}', { params: { path: { id: bob.id } } })).data!.online
  t.equal(await online(), true)
  // What another instance's sweep does to an instance it believes dead: its row, and its presence rows, go.
  await app.db.delete(instances).where(eq(instances.id, app.bus.instanceId))
  await until(async () => (await app.db.select().from(instances).where(eq(instances.id, app.bus.instanceId))).length === 1, 'the instance row to be renewed')
  await until(online, 'bob online again')
  t.pass('bob is online again while his stream stays open')
})
