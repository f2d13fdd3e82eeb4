// Several instances on one PostgreSQL database act as one service: events, logouts and presence cross
// instances, a killed LISTEN connection recovers without losing an event, a dead instance's users go offline.
// With BUS_URL=nats://... the same tests run on the NATS bus (but the LISTEN-specific ones).
import { randomUUID } from 'node:crypto'
import { type AddressInfo, connect, createServer, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { eq } from 'drizzle-orm'
import postgres from 'postgres'
import t, { type Test } from 'tap'
import { instances, presence } from '../src/db/schema.ts'
import { createTestDatabase, startApp, type TestApp, testBusUrl, usingPostgres } from './helpers/app.ts'
import { addContact, apiClient, registerUser, type TestUser } from './helpers/client.ts'
import { type ConnectOptions, openStream, presenceOf, type SseConnection } from './helpers/sse.ts'
import { range, until } from './helpers/wait.ts'

const skip = usingPostgres ? false : 'several instances need PostgreSQL (PGlite serves one process): set DATABASE_URL'
// The bus's own faults: LISTEN connections here, NATS in test/bus-nats.test.ts.
const listenSkip = skip || (testBusUrl === undefined ? false : 'LISTEN/NOTIFY faults: this pass runs on the NATS bus (BUS_URL)')
const LONG = 60_000
const RENEW_MS = 300

let a: TestApp
let b: TestApp
let databaseUrl: string
if (usingPostgres) {
  databaseUrl = (await createTestDatabase(t))!
  a = await startApp(t, { databaseUrl, presenceRenewMs: RENEW_MS })
  b = await startApp(t, { databaseUrl, presenceRenewMs: RENEW_MS })
}

async function open (t: Test, on: TestApp, user: TestUser, options: Omit<ConnectOptions, 'token'> = {}): Promise<SseConnection> {
  const stream = await openStream(t, on.baseUrl, { token: user.token, ...options }, LONG)
  t.equal(stream.status, 200, 'stream opened')
  return stream
}

/** The user as seen through another instance (same token, other base URL). */
function via (on: TestApp, user: TestUser): TestUser {
  return { ...user, api: apiClient(on.baseUrl, user.token) }
}

async function avatar (user: TestUser, tag: string): Promise<void> {
  const { response } = await user.api.PATCH('/users/me', { body: { avatarUrl: `https://example.com/${tag}` } })
  if (response.status !== 200) throw new Error(`PATCH ${response.status}`)
}

t.test('an event caused on one instance reaches streams on the other', { skip }, async (t) => {
  const alice = await registerUser(a.baseUrl)
  const onA = await open(t, a, alice)
  const onB = await open(t, b, alice)
  const bob = await registerUser(b.baseUrl)
  t.equal((await alice.api.POST('/contacts', { body: { userId: bob.id } })).response.status, 201)
  await avatar(via(b, alice), 'from-b')
  for (const stream of [onA, onB]) {
    await stream.waitFor(() => stream.durable().length >= 2, LONG)
    t.same(stream.durable().map((e) => [e.id, e.event]), [[1, 'contact.added'], [2, 'profile.updated']])
  }
})

t.test('concurrent writers on both instances: every stream gets every id once, in order', { skip }, async (t) => {
  const alice = await registerUser(a.baseUrl)
  const streams = [await open(t, a, alice), await open(t, b, alice)]
  await Promise.all(range(0, 9).map(async (writer) => {
    const user = via(writer % 2 === 0 ? a : b, alice)
    for (let i = 0; i < 30; i++) await avatar(user, `${writer}/${i}`)
  }))
  streams.push(await open(t, b, alice, { lastEventId: '0' }), await open(t, a, alice, { lastEventId: '150' }))
  const from = [1, 1, 1, 151]
  for (const [i, stream] of streams.entries()) {
    await stream.waitFor(() => stream.durable().length >= 301 - from[i]!, LONG, `stream ${i}: every event`)
    t.same(stream.durable().map((e) => e.id), range(from[i]!, 300), `stream ${i}: ids ${from[i]}..300 once, in order`)
  }
})

t.test('resuming on the other instance right after an event is never told the id is unknown', { skip }, async (t) => {
  const alice = await registerUser(a.baseUrl)
  const onA = await open(t, a, alice)
  await open(t, b, alice) // B already follows alice, and learns of A's events through NOTIFY
  for (let i = 1; i <= 20; i++) {
    await avatar(alice, `resume/${i}`)
    await onA.waitFor(() => onA.durable().length >= i, LONG)
    const resumed = await open(t, b, alice, { lastEventId: String(i) })
    t.notOk(resumed.frames.some((f) => f.event === 'reset'), `resume from ${i} on the other instance: no reset`)
    t.ok(Number(JSON.parse(resumed.frames[0]!.data).lastEventId) >= i, 'ready knows the newest event')
    resumed.close()
  }
})

t.test('logout on one instance closes the session\'s streams on the other', { skip }, async (t) => {
  const alice = await registerUser(a.baseUrl)
  const onB = await open(t, b, alice)
  const other = await apiClient(b.baseUrl).POST('/auth/login', { body: { username: alice.username, password: alice.password } })
  const keeper = await open(t, b, { ...alice, token: other.data!.token })
  t.equal((await alice.api.POST('/auth/logout')).response.status, 204)
  await onB.waitForEvent('session.revoked', LONG)
  await onB.ended
  t.ok(onB.isEnded(), 'closed on the other instance')
  t.notOk(keeper.isEnded(), 'another session\'s stream stays')

  // Password change on B revokes A's streams of the other sessions.
  const third = await apiClient(a.baseUrl).POST('/auth/login', { body: { username: alice.username, password: alice.password } })
  const onA = await open(t, a, { ...alice, token: third.data!.token })
  const changed = await apiClient(b.baseUrl, other.data!.token).PATCH('/users/me', { body: { password: 'another good password', currentPassword: alice.password } })
  t.equal(changed.response.status, 200)
  await onA.waitForEvent('session.revoked', LONG)
  await onA.ended
  t.notOk(keeper.isEnded())
})

t.test('presence crosses instances', { skip }, async (t) => {
  const alice = await registerUser(a.baseUrl)
  const bob = await registerUser(a.baseUrl)
  await addContact(alice, bob)
  const watcher = await open(t, a, alice)
  const online = async (on: TestApp) => (await apiClient(on.baseUrl, alice.token).GET('/contacts')).data!.contacts[0]!.online

  const bobOnB = await open(t, b, bob)
  t.same(JSON.parse((await watcher.waitForEvent('presence', LONG)).data), { userId: bob.id, online: true }, 'online, seen on the other instance')
  t.equal(await online(a), true)
  t.equal(await online(b), true)
  const bobOnA = await open(t, a, bob)
  bobOnB.close()
  await sleep(RENEW_MS * 4) // long enough for a wrong offline flip to be announced and expire
  t.equal(await online(a), true, 'still online: a stream is open on the other instance')
  t.equal(watcher.frames.filter((f) => f.event === 'presence').length, 1, 'no flip while a stream stays open anywhere')
  bobOnA.close()
  t.same(JSON.parse((await watcher.waitForEvent('presence', LONG)).data), { userId: bob.id, online: false })
  await until(async () => !await online(b), 'offline everywhere', 5_000)
})

t.test('a block started on one instance shows each offline to the other on the other instance, and no one else', { skip }, async (t) => {
  const [alice, bob, carol] = [await registerUser(a.baseUrl), await registerUser(a.baseUrl), await registerUser(a.baseUrl)]
  await addContact(alice, bob)
  await addContact(bob, alice)
  await addContact(carol, alice)
  const aliceOnA = await open(t, a, alice)
  const bobOnB = await open(t, b, bob)
  const carolOnB = await open(t, b, carol)
  await bobOnB.waitFor(() => presenceOf(bobOnB, alice.id).includes(true) || presenceOf(bobOnB, alice.id).length === 0, LONG)
  await aliceOnA.waitFor(() => presenceOf(aliceOnA, bob.id).includes(true), LONG, 'alice sees bob online')
  const before = { bob: presenceOf(bobOnB, alice.id).length, carol: presenceOf(carolOnB, alice.id).length }
  t.equal((await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
  await bobOnB.waitFor(() => presenceOf(bobOnB, alice.id).slice(before.bob).includes(false), LONG, 'bob, on the other instance: alice offline')
  await aliceOnA.waitFor(() => presenceOf(aliceOnA, bob.id).at(-1) === false, LONG, 'alice: bob offline')
  t.equal((await alice.api.DELETE('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
  await bobOnB.waitFor(() => presenceOf(bobOnB, alice.id).at(-1) === true, LONG, 'bob: alice online again')
  await sleep(RENEW_MS * 2)
  t.same(presenceOf(carolOnB, alice.id).slice(before.carol), [], 'a third user who watches alice is told nothing: alice never went offline')
})

t.test('a killed LISTEN connection reconnects and catches up without losing an event', { skip: listenSkip }, async (t) => {
  const alice = await registerUser(a.baseUrl)
  const onB = await open(t, b, alice)
  const admin = postgres(databaseUrl, { max: 1, onnotice: () => {} })
  t.teardown(() => admin.end())
  const listeners = async () => (await admin`select pid from pg_stat_activity where datname = current_database() and query ilike 'listen%' and pid <> pg_backend_pid()`).map((row) => row.pid as number)
  await until(async () => (await listeners()).length === 2, 'both instances to listen')

  // An event whose notice B never gets: written straight to the tables, as if its NOTIFY had been lost.
  const lost = randomUUID()
  await admin.begin(async (tx) => {
    const [row] = await tx`update users set last_event_id = last_event_id + 1 where id = ${alice.id} returning last_event_id`
    await tx`insert into events (user_id, id, type, data) values (${alice.id}, ${row!.last_event_id}, 'contact.removed', ${JSON.stringify({ contactId: lost })})`
  })

  // Kill the listening connections while instance A keeps writing.
  const before = await listeners()
  let writing = true
  let written = 0
  const writer = (async () => {
    while (writing) {
      await avatar(alice, `during/${written}`)
      written++
    }
  })()
  await until(() => written >= 3, 'writes before the kill')
  for (const pid of before) await admin`select pg_terminate_backend(${pid})`
  await until(async () => {
    const now = await listeners()
    return now.length === 2 && !now.some((pid) => before.includes(pid))
  }, 'the instances to listen again')
  const target = written + 5
  await until(() => written >= target, 'writes after the reconnect')
  writing = false
  await writer
  const total = written + 1
  await onB.waitFor(() => onB.durable().length >= total, LONG, `all ${total} events on B`)
  t.same(onB.durable().map((e) => e.id), range(1, total), 'every id once, in order')
  t.same(onB.durable()[0]!.data, { contactId: lost }, 'the event whose notice was lost arrived after the reconnect')

  // Live delivery works again through the new connection.
  await avatar(alice, 'after')
  await onB.waitFor(() => onB.durable().length >= total + 1, LONG)
  t.equal(onB.durable().at(-1)!.id, total + 1)
})

t.test('a LISTEN connection that cannot reconnect at once (database refusing connections) recovers', { skip: listenSkip }, async (t) => {
  const alice = await registerUser(a.baseUrl)
  const onB = await open(t, b, alice)
  const name = new URL(databaseUrl).pathname.slice(1)
  const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} })
  t.teardown(async () => {
    await admin.unsafe(`alter database ${name} with allow_connections true`)
    await admin.end()
  })
  const listeners = async () => (await admin`select pid from pg_stat_activity where datname = ${name} and query ilike 'listen%'`).map((row) => row.pid as number)
  await until(async () => (await listeners()).length === 2, 'both instances to listen')

  // Re-listening fails until the database accepts connections again.
  await admin.unsafe(`alter database ${name} with allow_connections false`)
  for (const pid of await listeners()) await admin`select pg_terminate_backend(${pid})`
  await sleep(1000)
  await admin.unsafe(`alter database ${name} with allow_connections true`)

  await avatar(alice, 'while-deaf')
  await onB.waitFor(() => onB.durable().length >= 1, LONG, 'the event on B')
  t.same(onB.durable().map((e) => e.id), [1], 'caught up once listening again')
  await until(async () => (await listeners()).length === 2, 'both instances to listen again')
  await avatar(alice, 'live')
  await onB.waitFor(() => onB.durable().length >= 2, LONG)
  t.same(onB.durable().map((e) => e.id), [1, 2], 'live again')
})

t.test('a LISTEN connection that silently stops delivering (half-open socket) is replaced', { skip: listenSkip }, async (t) => {
  // A third instance reaches PostgreSQL through a TCP proxy that can black-hole its LISTEN connection: the
  // socket stays open and nothing arrives, as after a network failure that sent no reset.
  const target = new URL(databaseUrl)
  const sockets = new Set<Socket>()
  const listening: Array<{ frozen: boolean }> = []
  const proxy = createServer((downstream) => {
    const upstream = connect(Number(target.port || 5432), target.hostname)
    const state = { frozen: false }
    for (const socket of [downstream, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {}).on('close', () => { sockets.delete(socket); downstream.destroy(); upstream.destroy() })
    }
    downstream.on('data', (chunk: Buffer) => {
      if (state.frozen) return
      if (/listen\s+"?chat_events/i.test(chunk.toString('latin1'))) listening.push(state)
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => { if (!state.frozen) downstream.write(chunk) })
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    proxy.close()
  })
  const proxied = new URL(databaseUrl)
  proxied.hostname = '127.0.0.1'
  proxied.port = String((proxy.address() as AddressInfo).port)
  const c = await startApp(t, { databaseUrl: proxied.toString(), presenceRenewMs: RENEW_MS })

  const alice = await registerUser(a.baseUrl)
  const onC = await open(t, c, alice)
  await until(() => listening.length === 1, 'the proxied instance to listen')
  // A first event through the live listener: the stream's hub is then current, so the next event can only reach
  // it through a notice (a hub still making its first read could otherwise pick it up on its own).
  await avatar(alice, 'before-freezing')
  await onC.waitFor(() => onC.durable().length >= 1, LONG, 'the first event on the proxied instance')
  listening[0]!.frozen = true
  await avatar(alice, 'while-frozen')
  await onC.waitFor(() => onC.durable().length >= 2, LONG, 'the event sent while frozen')
  t.same(onC.durable().map((e) => e.id), [1, 2], 'caught up through a new listening connection')
  t.equal(listening.length, 2, 'the frozen listener was replaced')
  await avatar(alice, 'live')
  await onC.waitFor(() => onC.durable().length >= 3, LONG)
  t.same(onC.durable().map((e) => e.id), [1, 2, 3], 'live again')
})

t.test('an instance that dies without cleanup stops counting its users online', { skip }, async (t) => {
  // A crashed instance leaves its rows and stops renewing them: make exactly that state.
  const alice = await registerUser(a.baseUrl)
  const ghost = await registerUser(a.baseUrl)
  await addContact(alice, ghost)
  const watcher = await open(t, b, alice)
  const dead = randomUUID()
  await a.app.db.insert(instances).values({ id: dead })
  await a.app.db.insert(presence).values({ userId: ghost.id, instanceId: dead })
  const online = async () => (await apiClient(a.baseUrl, alice.token).GET('/users/{id}', { params: { path: { id: ghost.id } } })).data!.online
  t.equal(await online(), true, 'online while its instance renews')
  const diedAt = Date.now()
  await until(async () => !await online(), 'the dead instance\'s user to show offline', 10_000)
  t.ok(Date.now() - diedAt < RENEW_MS * 3 + 5_000, 'offline within a bounded time')
  t.same(JSON.parse((await watcher.waitForEvent('presence', LONG)).data), { userId: ghost.id, online: false }, 'watchers are told')
  await until(async () => (await a.app.db.select().from(instances).where(eq(instances.id, dead))).length === 0, 'the dead instance to be swept')
  t.same(await a.app.db.select().from(presence).where(eq(presence.userId, ghost.id)), [], 'its presence rows are gone')
})
