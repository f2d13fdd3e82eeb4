// DELETE /users/me: the account and everything of it go at once (messages both sides, files' bytes, contacts,
// blocks, events, sessions), everyone who knew the user is told, the name is free again; on every instance.
import { existsSync, readdirSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { sql } from 'drizzle-orm'
import tap, { type Test } from 'tap'
import { createTestDatabase, startApp, type TestApp, usingPostgres } from './helpers/app.ts'
import { addContact, apiClient, registerUser, type TestUser } from './helpers/client.ts'
import { connectSse, type SseConnection } from './helpers/sse.ts'
import { PNG, upload } from './helpers/upload.ts'

const LONG = 30_000

async function open (t: Test, baseUrl: string, token: string, lastEventId?: string): Promise<SseConnection> {
  const stream = await connectSse(baseUrl, { token, ...(lastEventId === undefined ? {} : { lastEventId }) })
  t.teardown(() => stream.close())
  t.equal(stream.status, 200)
  await stream.waitForEvent('ready', LONG)
  return stream
}

const sendText = (from: TestUser, to: TestUser, content: string) =>
  from.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: to.id } }, body: { content } })

tap.test('deleting an account', async (t) => {
  const { baseUrl, config } = await startApp(t)
  const filesDir = join(config.dataDir, 'files')
  const stored = (id: string) => existsSync(join(filesDir, id))

  t.test('a wrong or missing password deletes nothing', async (t) => {
    const alice = await registerUser(baseUrl)
    const wrong = await alice.api.DELETE('/users/me', { body: { password: 'not the password' } })
    t.equal(wrong.response.status, 403)
    t.match(wrong.error, { code: 'WRONG_PASSWORD' })
    const missing = await fetch(new URL('/users/me', baseUrl), { method: 'DELETE', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: '{}' })
    t.equal(missing.status, 400)
    const extra = await alice.api.DELETE('/users/me', { body: { password: alice.password, everything: true } as never })
    t.equal(extra.response.status, 400, 'unknown properties are rejected')
    t.equal((await alice.api.GET('/users/me')).response.status, 200, 'still there')
    t.equal((await apiClient(baseUrl).DELETE('/users/me', { body: { password: alice.password } })).response.status, 401)
  })

  t.test('everything of the user goes; the peers are told and no longer see the user', async (t) => {
    const alice = await registerUser(baseUrl)
    const bob = await registerUser(baseUrl) // has alice as a contact, and a conversation with files both ways
    const carol = await registerUser(baseUrl) // only a conversation: alice added her
    const dave = await registerUser(baseUrl) // had blocked alice
    const erin = await registerUser(baseUrl) // alice has her as a contact, nothing else: not told
    // bob's first event is about carol: his log keeps its oldest event, so a replay from 0 is served in full.
    await addContact(bob, carol)
    await addContact(bob, alice)
    await addContact(alice, carol)
    await addContact(alice, erin)
    await addContact(alice, bob)
    t.equal((await dave.api.PUT('/blocks/{userId}', { params: { path: { userId: alice.id } } })).response.status, 204)
    t.equal((await sendText(alice, bob, 'secret from alice')).response.status, 201)
    t.equal((await sendText(bob, alice, 'secret from bob')).response.status, 201)
    t.equal((await sendText(alice, carol, 'hi carol')).response.status, 201)
    t.equal((await sendText(bob, carol, 'bob to carol stays')).response.status, 201)
    const fromAlice = await upload(baseUrl, alice.token, `/conversations/${bob.id}/files`, { bytes: Buffer.from('alice file'), name: 'a.txt' })
    const fromBob = await upload(baseUrl, bob.token, `/conversations/${alice.id}/images`, { bytes: PNG, name: 'b.png' })
    const bobToCarol = await upload(baseUrl, bob.token, `/conversations/${carol.id}/files`, { bytes: Buffer.from('stays'), name: 'c.txt' })
    const avatar = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: PNG, name: 'me.png' }, 'PUT')
    t.same([fromAlice.status, fromBob.status, bobToCarol.status, avatar.status], [201, 201, 201, 200])
    const aliceFiles = [fromAlice.body.file.id as string, fromBob.body.file.id as string, (avatar.body.avatarUrl as string).slice('/files/'.length).split('?')[0]!]
    for (const id of [...aliceFiles, bobToCarol.body.file.id]) t.ok(stored(id), 'bytes stored')

    const streams = {
      bob: await open(t, baseUrl, bob.token),
      carol: await open(t, baseUrl, carol.token),
      dave: await open(t, baseUrl, dave.token),
      erin: await open(t, baseUrl, erin.token)
    }
    const aliceStream = await open(t, baseUrl, alice.token)
    const second = await apiClient(baseUrl).POST('/auth/login', { body: { username: alice.username, password: alice.password } })
    const aliceSecond = await open(t, baseUrl, second.data!.token)

    t.equal((await alice.api.DELETE('/users/me', { body: { password: alice.password } })).response.status, 204)

    for (const [name, stream] of [['bob', streams.bob], ['carol', streams.carol], ['dave', streams.dave]] as const) {
      const event = await stream.waitForEvent('user.deleted', LONG)
      t.same(JSON.parse(event.data), { userId: alice.id }, `${name} gets user.deleted`)
      t.ok(event.id !== undefined, 'durable')
    }
    for (const stream of [aliceStream, aliceSecond]) {
      await stream.waitForEvent('session.revoked', LONG)
      await stream.ended
    }
    await sleep(100)
    t.notOk(streams.erin.frames.some((f) => f.event === 'user.deleted'), 'someone the user had as a contact, with no conversation, is not told')

    // The user's tokens are 401 everywhere.
    for (const token of [alice.token, second.data!.token]) {
      t.equal((await apiClient(baseUrl, token).GET('/users/me')).response.status, 401)
      const events = await connectSse(baseUrl, { token })
      t.equal(events.status, 401, '/events refuses the token')
    }

    // The peers no longer see the user anywhere.
    t.notOk((await bob.api.GET('/contacts')).data!.contacts.some((c) => c.contactId === alice.id), 'gone from bob\'s contacts')
    t.same((await bob.api.GET('/conversations')).data!.conversations.map((c) => c.peer.id), [carol.id], 'bob\'s conversation with alice is gone, his others stay')
    t.same((await carol.api.GET('/conversations')).data!.conversations.map((c) => c.peer.id), [bob.id])
    t.same((await dave.api.GET('/blocks')).data!.users, [], 'gone from dave\'s blocks')
    t.same((await bob.api.GET('/users', { params: { query: { search: alice.username } } })).data!.users, [], 'not found by search')
    t.equal((await bob.api.GET('/users/{id}', { params: { path: { id: alice.id } } })).response.status, 404)
    t.equal((await bob.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id } } })).response.status, 404, 'no history with the user')
    const carolHistory = await carol.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } } })
    t.same(carolHistory.data!.messages.map((m) => m.content ?? m.file?.name), ['c.txt', 'bob to carol stays'], 'other conversations are untouched')

    // Files: the bytes of every file the user sent, received or had as avatar are gone; others' stay.
    for (const id of aliceFiles) {
      t.notOk(stored(id), `bytes of ${id} removed`)
      t.equal((await bob.api.GET('/files/{fileId}', { params: { path: { fileId: id } }, parseAs: 'stream' })).response.status, 404)
    }
    t.ok(stored(bobToCarol.body.file.id), 'a file of another conversation stays')
    t.notOk(readdirSync(filesDir).some((name) => aliceFiles.includes(name)))

    // Replaying bob's log carries none of alice's messages (their content is erased) and ends with user.deleted.
    const replay = await open(t, baseUrl, bob.token, '0')
    await replay.waitFor(() => replay.durable().some((e) => e.event === 'user.deleted'), LONG)
    const replayed = replay.durable()
    t.notOk(replayed.some((e) => e.event.startsWith('message.') && (e.data.senderId === alice.id || e.data.receiverId === alice.id)), 'no message with alice is replayed')
    t.notOk(JSON.stringify(replayed).includes('secret from'), 'no content of theirs left in the log')
    t.ok(replayed.some((e) => e.event === 'message.created' && e.data.content === 'bob to carol stays'), 'the rest of the log stays')

    // The username and email are free at once.
    const again = await registerUser(baseUrl, { username: alice.username, email: alice.email })
    t.not(again.id, alice.id, 'registered again as a new user')
    t.equal((await again.api.GET('/conversations')).data!.conversations.length, 0, 'with nothing of the old account')
    t.equal((await bob.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: again.id } } })).data!.messages.length, 0)
  })
})

tap.test('a failure in the middle of a deletion leaves the whole account', async (t) => {
  const { app, baseUrl, config } = await startApp(t)
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  await addContact(bob, alice)
  t.equal((await sendText(alice, bob, 'still here')).response.status, 201)
  const file = await upload(baseUrl, alice.token, `/conversations/${bob.id}/files`, { bytes: Buffer.from('kept'), name: 'k.txt' })
  t.equal(file.status, 201)
  const bobStream = await open(t, baseUrl, bob.token)
  // The fault strikes at the very last step, the user's row, after messages, events and files were deleted.
  await app.db.execute(sql.raw(`create function refuse_delete() returns trigger language plpgsql as $$
    begin raise exception 'injected fault'; end $$`))
  await app.db.execute(sql.raw(`create trigger refuse_delete before delete on users for each row
    when (old.id = '${alice.id}') execute function refuse_delete()`))
  t.equal((await alice.api.DELETE('/users/me', { body: { password: alice.password } })).response.status, 500, 'the injected fault fails the request')
  t.equal((await alice.api.GET('/users/me')).response.status, 200, 'the account and its session are still there')
  const history = await bob.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id } } })
  t.same(history.data!.messages.map((m) => m.content ?? m.file?.name), ['k.txt', 'still here'], 'every message is still there')
  t.ok(existsSync(join(config.dataDir, 'files', file.body.file.id)), 'the file\'s bytes are still there')
  const download = await bob.api.GET('/files/{fileId}', { params: { path: { fileId: file.body.file.id } }, parseAs: 'text' })
  t.equal(download.data, 'kept')
  t.ok((await bob.api.GET('/contacts')).data!.contacts.some((c) => c.contactId === alice.id), 'the contact is still there')
  await sleep(200)
  t.notOk(bobStream.frames.some((f) => f.event === 'user.deleted'), 'no user.deleted was sent')
  const replay = await open(t, baseUrl, bob.token, '0')
  await replay.waitFor(() => replay.durable().length >= 3, LONG)
  t.same(replay.durable().map((e) => e.event), ['contact.added', 'message.created', 'message.created'], 'bob\'s log is whole')
  await app.db.execute(sql.raw('drop trigger refuse_delete on users'))
  t.equal((await alice.api.DELETE('/users/me', { body: { password: alice.password } })).response.status, 204, 'once the fault is gone it works')
  await bobStream.waitForEvent('user.deleted', LONG)
})

tap.test('password guesses on DELETE /users/me are rate limited like logins', async (t) => {
  const { baseUrl } = await startApp(t, { rateLimitAuthPerMinute: 2 })
  const alice = await registerUser(baseUrl)
  for (let i = 0; i < 2; i++) t.equal((await alice.api.DELETE('/users/me', { body: { password: `guess ${i}` } })).response.status, 403)
  const limited = await alice.api.DELETE('/users/me', { body: { password: alice.password } })
  t.equal(limited.response.status, 429)
  t.match(limited.error, { code: 'RATE_LIMITED' })
  t.ok(limited.response.headers.get('retry-after'), 'with Retry-After')
  t.equal((await alice.api.GET('/users/me')).response.status, 200, 'not deleted')
})

tap.test('a deletion whose client is gone before its budget is counted logs no error', async (t) => {
  const lines: string[] = []
  const { baseUrl } = await startApp(t, { logLevel: 'info', logStream: { write: (line) => { lines.push(line) } } })
  const alice = await registerUser(baseUrl)
  // A body without Content-Length is read as a second request: the server answers 400 and closes the socket
  // while the first is still being authenticated.
  await new Promise<void>((resolve) => {
    const socket = net.connect(Number(new URL(baseUrl).port), '127.0.0.1', () => {
      socket.write(`DELETE /users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\nContent-Type: application/json\r\n\r\n{"password":"x"}`)
    })
    socket.resume()
    socket.on('error', () => {})
    socket.on('close', () => resolve())
  })
  await sleep(300)
  const errors = lines.map((line) => JSON.parse(line) as { level: number, msg: string }).filter((line) => line.level >= 50)
  t.same(errors.map((line) => line.msg), [], 'no error logged')
  t.equal((await alice.api.GET('/users/me')).response.status, 200, 'not deleted')
})

const skip = usingPostgres ? false : 'several instances need PostgreSQL: set DATABASE_URL'

tap.test('deleting an account on one instance: user.deleted and the revocation reach the other', { skip }, async (t) => {
  const databaseUrl = (await createTestDatabase(t))!
  const a: TestApp = await startApp(t, { databaseUrl })
  const b: TestApp = await startApp(t, { databaseUrl, dataDir: a.config.dataDir })
  const alice = await registerUser(a.baseUrl)
  const bob = await registerUser(b.baseUrl)
  await addContact(bob, alice)
  t.equal((await sendText(alice, bob, 'hello')).response.status, 201)
  const bobOnB = await open(t, b.baseUrl, bob.token)
  const aliceOnB = await open(t, b.baseUrl, alice.token)
  t.equal((await alice.api.DELETE('/users/me', { body: { password: alice.password } })).response.status, 204, 'deleted through A')
  const event = await bobOnB.waitForEvent('user.deleted', LONG)
  t.same(JSON.parse(event.data), { userId: alice.id })
  await aliceOnB.waitForEvent('session.revoked', LONG)
  await aliceOnB.ended
  t.equal((await apiClient(b.baseUrl, alice.token).GET('/users/me')).response.status, 401, 'the token is 401 on B')
  t.equal((await connectSse(b.baseUrl, { token: alice.token })).status, 401, '/events on B refuses it')
  t.same((await apiClient(b.baseUrl, bob.token).GET('/conversations')).data!.conversations, [])
  t.equal((await registerUser(b.baseUrl, { username: alice.username, email: alice.email })).username, alice.username, 'the name is free on B too')
})
