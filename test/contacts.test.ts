// Contacts: adding by id or username, removing, the contract's errors, the events they send, and live
// online status (also in GET /users and GET /users/{id}) with presence events.
import { randomBytes } from 'node:crypto'
import t, { type Test } from 'tap'
import { startApp } from './helpers/app.ts'
import { registerUser, type TestUser } from './helpers/client.ts'
import { connectSse, openStream, type SseConnection } from './helpers/sse.ts'
import { until } from './helpers/wait.ts'

const { baseUrl } = await startApp(t)
const LONG = 60_000

async function open (t: Test, user: TestUser): Promise<SseConnection> {
  const stream = await openStream(t, baseUrl, { token: user.token }, LONG)
  t.equal(stream.status, 200)
  return stream
}

async function post (user: TestUser, body: unknown) {
  const response = await fetch(`${baseUrl}/contacts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body)
  })
  return { status: response.status, body: await response.json() as any }
}

async function onlineEverywhere (viewer: TestUser, target: TestUser): Promise<boolean[]> {
  const contacts = (await viewer.api.GET('/contacts')).data!.contacts.find((c) => c.contactId === target.id)
  const search = (await viewer.api.GET('/users', { params: { query: { search: target.username, limit: 20 } } })).data!.users.find((u) => u.id === target.id)
  const one = (await viewer.api.GET('/users/{id}', { params: { path: { id: target.id } } })).data!
  return [contacts!.online, search!.online, one.online]
}

const tag = () => randomBytes(3).toString('hex')

t.test('add by userId or username, list ordered by username, remove; events to the owner only', async (t) => {
  const alice = await registerUser(baseUrl)
  const zed = await registerUser(baseUrl, { username: `zed_${tag()}` })
  const amy = await registerUser(baseUrl, { username: `Amy_${tag()}` })
  const bea = await registerUser(baseUrl, { username: `bea_${tag()}` })
  const stream = await open(t, alice)
  const zedStream = await open(t, zed)

  const byId = await alice.api.POST('/contacts', { body: { userId: zed.id } })
  t.equal(byId.response.status, 201)
  t.match(byId.data, { contactId: zed.id, username: zed.username, avatarUrl: null, online: true, addedAt: String })
  t.ok(!Number.isNaN(Date.parse(byId.data!.addedAt)))
  const byName = await alice.api.POST('/contacts', { body: { username: amy.username.toUpperCase() } })
  t.equal(byName.response.status, 201, 'by username, without regard to case')
  t.match(byName.data, { contactId: amy.id, username: amy.username, online: false })
  t.equal((await alice.api.POST('/contacts', { body: { username: bea.username } })).response.status, 201)

  const list = await alice.api.GET('/contacts')
  t.same(list.data!.contacts.map((c) => c.username), [amy.username, bea.username, zed.username], 'ordered by username, ignoring case')
  t.same(list.data!.contacts.find((c) => c.contactId === zed.id), byId.data, 'the list shows what the add answered')
  t.same((await zed.api.GET('/contacts')).data!.contacts, [], 'adding is one-way: the other list does not change')

  await stream.waitFor(() => stream.durable().length >= 3, LONG)
  t.same(stream.durable().map((e) => [e.id, e.event]), [[1, 'contact.added'], [2, 'contact.added'], [3, 'contact.added']])
  t.same(stream.durable()[0]!.data, byId.data, 'contact.added carries the Contact')

  t.equal((await alice.api.DELETE('/contacts/{contactId}', { params: { path: { contactId: zed.id } } })).response.status, 204)
  await stream.waitFor(() => stream.durable().length >= 4, LONG)
  t.same(stream.durable()[3], { id: 4, event: 'contact.removed', data: { contactId: zed.id } })
  t.same((await alice.api.GET('/contacts')).data!.contacts.map((c) => c.contactId), [amy.id, bea.id])

  const again = await alice.api.DELETE('/contacts/{contactId}', { params: { path: { contactId: zed.id } } })
  t.equal(again.response.status, 404)
  t.match(again.error, { statusCode: 404, code: 'CONTACT_NOT_FOUND', error: 'Not Found', message: String })

  // The others got nothing of alice's list changes: their first event is their own.
  const renamed = `zed2_${tag()}`
  t.equal((await zed.api.PATCH('/users/me', { body: { username: renamed } })).response.status, 200)
  await zedStream.waitFor(() => zedStream.durable().length >= 1, LONG)
  t.match(zedStream.durable(), [{ id: 1, event: 'profile.updated', data: { id: zed.id, username: renamed, email: zed.email, avatarUrl: null, createdAt: String } }])
  t.same(Object.keys(zedStream.durable()[0]!.data).sort(), ['avatarUrl', 'createdAt', 'email', 'id', 'username'], 'profile.updated carries the User, nothing more')
})

t.test('errors: 404 USER_NOT_FOUND, 409 CONTACT_EXISTS, 400 CANNOT_ADD_SELF and bad bodies', async (t) => {
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  t.equal((await post(alice, { userId: bob.id })).status, 201)
  const cases: Array<[string, unknown, number, string]> = [
    ['existing, by id', { userId: bob.id }, 409, 'CONTACT_EXISTS'],
    ['existing, by username', { username: bob.username.toUpperCase() }, 409, 'CONTACT_EXISTS'],
    ['self by id', { userId: alice.id }, 400, 'CANNOT_ADD_SELF'],
    ['self by username', { username: alice.username.toUpperCase() }, 400, 'CANNOT_ADD_SELF'],
    ['unknown id', { userId: '00000000-0000-4000-8000-000000000000' }, 404, 'USER_NOT_FOUND'],
    ['unknown username', { username: `nobody_${tag()}` }, 404, 'USER_NOT_FOUND'],
    ['both', { userId: bob.id, username: bob.username }, 400, 'VALIDATION_ERROR'],
    ['neither', {}, 400, 'VALIDATION_ERROR'],
    ['unknown property', { userId: bob.id, owner: alice.id }, 400, 'VALIDATION_ERROR'],
    ['id not a UUID', { userId: 'bob' }, 400, 'VALIDATION_ERROR'],
    ['empty username', { username: '' }, 400, 'VALIDATION_ERROR'],
    ['NUL in username', { username: 'bo\u0000b' }, 400, 'VALIDATION_ERROR'],
    ['null', null, 400, 'VALIDATION_ERROR'],
    ['array', [bob.id], 400, 'VALIDATION_ERROR']
  ]
  for (const [what, body, status, code] of cases) {
    const res = await post(alice, body)
    t.equal(res.status, status, what)
    t.match(res.body, { statusCode: status, code, error: String, message: String }, `${what}: ${code}`)
  }
  const notJson = await fetch(`${baseUrl}/contacts`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: '{' })
  t.equal(notJson.status, 400)
  const badId = await fetch(`${baseUrl}/contacts/not-a-uuid`, { method: 'DELETE', headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(badId.status, 400)
  t.match(await badId.json(), { code: 'VALIDATION_ERROR' })
  const never = await alice.api.DELETE('/contacts/{contactId}', { params: { path: { contactId: '00000000-0000-4000-8000-000000000000' } } })
  t.equal(never.response.status, 404)
  t.match(never.error, { code: 'CONTACT_NOT_FOUND' })
  for (const [method, path] of [['GET', '/contacts'], ['POST', '/contacts'], ['DELETE', `/contacts/${bob.id}`]] as const) {
    const res = await fetch(`${baseUrl}${path}`, { method })
    t.equal(res.status, 401, `${method} ${path} without a token`)
    t.match(await res.json(), { code: 'AUTH_REQUIRED' })
  }
  t.same((await alice.api.GET('/contacts')).data!.contacts.map((c) => c.contactId), [bob.id], 'no failed call changed the list')
})

t.test('online while a stream is open, offline within 5 s after the last closes; presence events', async (t) => {
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  const carol = await registerUser(baseUrl)
  t.equal((await alice.api.POST('/contacts', { body: { userId: bob.id } })).response.status, 201)
  const watcher = await open(t, alice)
  const stranger = await open(t, carol) // does not have bob: gets no presence of his
  t.same(await onlineEverywhere(alice, bob), [false, false, false], 'offline before any stream')

  const first = await open(t, bob)
  t.same(JSON.parse((await watcher.waitForEvent('presence', LONG)).data), { userId: bob.id, online: true })
  t.same(await onlineEverywhere(alice, bob), [true, true, true], 'online in contacts, search and profile')
  t.same(await onlineEverywhere(carol, bob).catch(() => undefined), undefined, 'carol has no contact entry for bob')
  t.equal((await carol.api.GET('/users/{id}', { params: { path: { id: bob.id } } })).data!.online, true, 'anyone sees it on the profile')

  const second = await open(t, bob)
  first.close()
  t.same(await onlineEverywhere(alice, bob), [true, true, true], 'still online with one stream left')
  second.close()
  const closedAt = Date.now()
  t.same(JSON.parse((await watcher.waitForEvent('presence', LONG)).data), { userId: bob.id, online: false })
  await until(async () => (await onlineEverywhere(alice, bob)).every((online) => !online), 'offline everywhere', 5_000)
  t.ok(Date.now() - closedAt < 5_000, 'offline within 5 s')
  t.equal(watcher.frames.filter((f) => f.event === 'presence').length, 2, 'one flip each way, none for the second stream')
  t.ok(watcher.frames.filter((f) => f.event === 'presence').every((f) => f.id === undefined), 'presence has no id')
  t.same(stranger.frames.filter((f) => f.event === 'presence'), [], 'presence goes only to those who have the user as a contact')

  const reopened = await open(t, bob)
  const again = await watcher.waitForEvent('presence', LONG)
  t.same(JSON.parse(again.data), { userId: bob.id, online: true })
  reopened.close()
  t.same(JSON.parse((await watcher.waitForEvent('presence', LONG)).data), { userId: bob.id, online: false })
})

t.test('a client that opens and drops streams at once leaves no one online', async (t) => {
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  t.equal((await alice.api.POST('/contacts', { body: { userId: bob.id } })).response.status, 201)
  const steady = await open(t, bob)
  const drops = await Promise.all(Array.from({ length: 20 }, () => connectSse(baseUrl, { token: bob.token })))
  for (const stream of drops) stream.close()
  t.same(await onlineEverywhere(alice, bob), [true, true, true], 'online while the steady stream stays')
  steady.close()
  await until(async () => (await onlineEverywhere(alice, bob)).every((online) => !online), 'offline after the last stream', 5_000)
  t.pass('offline')
})
