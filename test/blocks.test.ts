// Blocking: either side blocked means no sends (text, file, image) either way, each offline to the other (one
// `presence` offline event when the block starts, none while it lasts), the blocker hidden from the blocked user's
// search; history stays; unblocking restores everything (the real presence at once); block.added/block.removed reach
// the blocker's devices only.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import tap, { type Test } from 'tap'
import { startApp } from './helpers/app.ts'
import { addContact, apiClient, registerUser, type TestUser } from './helpers/client.ts'
import { connectSse, presenceOf, type SseConnection } from './helpers/sse.ts'
import { PNG, upload } from './helpers/upload.ts'

const LONG = 30_000

tap.test('blocking', async (t) => {
  const { baseUrl } = await startApp(t)

  async function open (t: Test, user: TestUser, token = user.token): Promise<SseConnection> {
    const stream = await connectSse(baseUrl, { token })
    t.teardown(() => stream.close())
    t.equal(stream.status, 200)
    await stream.waitForEvent('ready', LONG)
    return stream
  }

  const sendText = (from: TestUser, to: TestUser, content = 'hello') =>
    from.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: to.id } }, body: { content } })
  const sendFile = (from: TestUser, to: TestUser, kind: 'files' | 'images') =>
    upload(baseUrl, from.token, `/conversations/${to.id}/${kind}`, { bytes: PNG, name: 'dot.png', type: 'image/png' })

  /** What `viewer` sees of `other`'s online status in contacts, conversations, search and GET /users/{id}. */
  async function seenOnline (viewer: TestUser, other: TestUser): Promise<Record<string, boolean | undefined>> {
    const contacts = (await viewer.api.GET('/contacts')).data!.contacts.find((c) => c.contactId === other.id)
    const conversation = (await viewer.api.GET('/conversations')).data!.conversations.find((c) => c.peer.id === other.id)
    const found = (await viewer.api.GET('/users', { params: { query: { search: other.username } } })).data!.users.find((u) => u.id === other.id)
    const profile = (await viewer.api.GET('/users/{id}', { params: { path: { id: other.id } } })).data!
    return { contacts: contacts?.online, conversation: conversation?.peer.online, search: found?.online, profile: profile.online }
  }

  /** Two users who have each other as contacts and a conversation, and a third who watches both. */
  async function setup () {
    const alice = await registerUser(baseUrl)
    const bob = await registerUser(baseUrl)
    const carol = await registerUser(baseUrl)
    await addContact(alice, bob)
    await addContact(bob, alice)
    await addContact(carol, alice)
    await addContact(carol, bob)
    t.equal((await sendText(alice, bob, 'before the block')).response.status, 201)
    t.equal((await sendText(bob, alice, 'reply before the block')).response.status, 201)
    return { alice, bob, carol }
  }

  t.test('while blocked: typing and reactions refused both ways, allowed again after unblocking', async (t) => {
    const { alice, bob } = await setup()
    const message = (await sendText(alice, bob, 'react to me')).data!
    const react = (from: TestUser, method: 'PUT' | 'DELETE') => {
      const options = { params: { path: { messageId: message.id, emoji: '👍' } } }
      return method === 'PUT' ? from.api.PUT('/messages/{messageId}/reactions/{emoji}', options) : from.api.DELETE('/messages/{messageId}/reactions/{emoji}', options)
    }
    const typing = (from: TestUser, to: TestUser) => from.api.POST('/conversations/{peerId}/typing', { params: { path: { peerId: to.id } }, body: { typing: true } })
    t.equal((await react(bob, 'PUT')).response.status, 200, 'before the block: a reaction')
    t.equal((await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
    for (const [from, to, who] of [[bob, alice, 'blocked -> blocker'], [alice, bob, 'blocker -> blocked']] as const) {
      const typed = await typing(from, to)
      t.equal(typed.response.status, 403, `${who}: typing 403`)
      t.match(typed.error, { code: 'BLOCKED' })
      const reacted = await react(from, 'PUT')
      t.equal(reacted.response.status, 403, `${who}: reaction 403`)
      t.match(reacted.error, { code: 'BLOCKED' })
    }
    t.equal((await react(bob, 'DELETE')).response.status, 403, 'taking a reaction back is refused too')
    t.equal((await alice.api.DELETE('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
    t.equal((await typing(bob, alice)).response.status, 204, 'after unblocking: typing')
    t.equal((await react(alice, 'PUT')).response.status, 200, 'after unblocking: a reaction')
  })

  t.test('a block shows each offline to the other at once; lifting it shows the real state at once', async (t) => {
    const { alice, bob } = await setup()
    const aliceStream = await open(t, alice)
    const bobStream = await open(t, bob)
    await aliceStream.waitFor(() => presenceOf(aliceStream, bob.id).includes(true), LONG, 'alice sees bob online')
    const before = { alice: presenceOf(aliceStream, bob.id).length, bob: presenceOf(bobStream, alice.id).length }
    t.equal((await bob.api.PUT('/blocks/{userId}', { params: { path: { userId: alice.id } } })).response.status, 204)
    await aliceStream.waitFor(() => presenceOf(aliceStream, bob.id).length > before.alice, LONG, 'alice: a presence event of bob')
    await bobStream.waitFor(() => presenceOf(bobStream, alice.id).length > before.bob, LONG, 'bob: a presence event of alice')
    t.same(presenceOf(aliceStream, bob.id).slice(before.alice), [false], 'the blocked user sees the blocker go offline')
    t.same(presenceOf(bobStream, alice.id).slice(before.bob), [false], 'the blocker sees the blocked user go offline')
    t.equal((await bob.api.DELETE('/blocks/{userId}', { params: { path: { userId: alice.id } } })).response.status, 204)
    await aliceStream.waitFor(() => presenceOf(aliceStream, bob.id).length > before.alice + 1, LONG, 'alice: bob again')
    await bobStream.waitFor(() => presenceOf(bobStream, alice.id).length > before.bob + 1, LONG, 'bob: alice again')
    t.same(presenceOf(aliceStream, bob.id).slice(before.alice), [false, true], 'online again once the block is lifted')
    t.same(presenceOf(bobStream, alice.id).slice(before.bob), [false, true])
  })

  t.test('while blocked: sends refused both ways, offline both ways, no presence events, blocker hidden from search', async (t) => {
    const { alice, bob, carol } = await setup()
    const aliceStream = await open(t, alice)
    const bobStream = await open(t, bob)
    const carolStream = await open(t, carol)
    t.same(await seenOnline(alice, bob), { contacts: true, conversation: true, search: true, profile: true }, 'before: online')
    const aliceOther = await apiClient(baseUrl).POST('/auth/login', { body: { username: alice.username, password: alice.password } })
    const aliceOtherStream = await open(t, alice, aliceOther.data!.token)

    const announced = { alice: presenceOf(aliceStream, bob.id).length, aliceOther: presenceOf(aliceOtherStream, bob.id).length, bob: presenceOf(bobStream, alice.id).length }
    t.equal((await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
    // The block's own announcement (each sees the other go offline) is not counted below.
    await aliceStream.waitFor(() => presenceOf(aliceStream, bob.id).slice(announced.alice).includes(false), LONG, 'alice: bob offline')
    await aliceOtherStream.waitFor(() => presenceOf(aliceOtherStream, bob.id).slice(announced.aliceOther).includes(false), LONG, 'alice (other device): bob offline')
    await bobStream.waitFor(() => presenceOf(bobStream, alice.id).slice(announced.bob).includes(false), LONG, 'bob: alice offline')
    const before = { alice: presenceOf(aliceStream, bob.id).length, aliceOther: presenceOf(aliceOtherStream, bob.id).length, bob: presenceOf(bobStream, alice.id).length }
    for (const stream of [aliceStream, aliceOtherStream]) {
      const event = await stream.waitForEvent('block.added', LONG)
      t.same(JSON.parse(event.data), { userId: bob.id }, 'block.added reaches every device of the blocker')
      t.ok(event.id !== undefined, 'durable')
    }
    t.same((await alice.api.GET('/blocks')).data, { users: [{ id: bob.id, username: bob.username, avatarUrl: null, online: false }] })
    t.same((await bob.api.GET('/blocks')).data, { users: [] }, 'the blocked user sees no block')

    for (const [from, to, who] of [[bob, alice, 'blocked -> blocker'], [alice, bob, 'blocker -> blocked']] as const) {
      const text = await sendText(from, to)
      t.equal(text.response.status, 403, `${who}: text 403`)
      t.match(text.error, { code: 'BLOCKED' })
      for (const kind of ['files', 'images'] as const) {
        const sent = await sendFile(from, to, kind)
        t.equal(sent.status, 403, `${who}: ${kind} 403`)
        t.equal(sent.body.code, 'BLOCKED')
      }
    }
    const replay = await connectSse(baseUrl, { token: bob.token, lastEventId: '0' })
    t.teardown(() => replay.close())
    await replay.waitForEvent('ready', LONG)
    await sleep(100)
    t.notOk(replay.frames.some((f) => f.event.startsWith('block.')), 'the blocked user has no event about it')
    replay.close()
    t.notOk(bobStream.frames.some((f) => f.event.startsWith('block.')))

    const offline = { contacts: false, conversation: false, search: false, profile: false }
    t.same(await seenOnline(alice, bob), offline, 'the blocked user shows offline to the blocker')
    t.same(await seenOnline(bob, alice), { ...offline, search: undefined }, 'the blocker shows offline to the blocked user, and is not in their search')
    t.match(await seenOnline(carol, alice), { contacts: true, search: true, profile: true }, 'others still see both online')

    // Presence changes while blocked reach others (carol) but not the other party.
    bobStream.close()
    await carolStream.waitFor(() => presenceOf(carolStream, bob.id).includes(false), LONG, 'carol: bob offline')
    const bobAgain = await open(t, bob)
    await carolStream.waitFor(() => presenceOf(carolStream, bob.id).filter((o) => o).length >= 1, LONG, 'carol: bob online again')
    aliceStream.close()
    aliceOtherStream.close()
    await carolStream.waitFor(() => presenceOf(carolStream, alice.id).includes(false), LONG, 'carol: alice offline')
    const aliceAgain = await open(t, alice)
    await carolStream.waitFor(() => presenceOf(carolStream, alice.id).includes(true), LONG, 'carol: alice online again')
    await sleep(100)
    t.same(presenceOf(aliceStream, bob.id).slice(before.alice).concat(presenceOf(aliceOtherStream, bob.id).slice(before.aliceOther), presenceOf(aliceAgain, bob.id)), [], 'the blocker got no presence event of the blocked user')
    t.same(presenceOf(bobStream, alice.id).slice(before.bob).concat(presenceOf(bobAgain, alice.id)), [], 'the blocked user got no presence event of the blocker')

    const history = await bob.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id } } })
    t.same(history.data!.messages.map((m) => m.content), ['reply before the block', 'before the block'], 'history stays readable')
    const aliceHistory = await alice.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } } })
    t.equal(aliceHistory.data!.messages.length, 2)

    // Unblocking restores everything.
    t.equal((await alice.api.DELETE('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
    t.same(JSON.parse((await aliceAgain.waitForEvent('block.removed', LONG)).data), { userId: bob.id })
    t.same((await alice.api.GET('/blocks')).data, { users: [] })
    t.equal((await sendText(bob, alice, 'after')).response.status, 201, 'sends work again')
    t.equal((await sendText(alice, bob, 'after too')).response.status, 201)
    t.equal((await sendFile(bob, alice, 'images')).status, 201)
    const online = { contacts: true, conversation: true, search: true, profile: true }
    t.same(await seenOnline(alice, bob), online)
    t.same(await seenOnline(bob, alice), online, 'the blocker is back in search, online')
    bobAgain.close()
    await aliceAgain.waitFor(() => presenceOf(aliceAgain, bob.id).includes(false), LONG, 'presence events flow again')
    await open(t, bob)
    await aliceAgain.waitFor(() => presenceOf(aliceAgain, bob.id).includes(true), LONG, 'presence events flow again (online)')
  })

  t.test('a block from the other side works the same, and either block is enough', async (t) => {
    const { alice, bob } = await setup()
    t.equal((await bob.api.PUT('/blocks/{userId}', { params: { path: { userId: alice.id } } })).response.status, 204)
    t.equal((await sendText(alice, bob)).response.status, 403)
    t.equal((await sendText(bob, alice)).response.status, 403)
    t.equal((await alice.api.GET('/users', { params: { query: { search: bob.username } } })).data!.users.length, 0, 'the blocker (bob) is hidden from alice')
    t.equal((await bob.api.GET('/users', { params: { query: { search: alice.username } } })).data!.users.length, 1)
    t.equal((await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204, 'both block')
    t.equal((await bob.api.DELETE('/blocks/{userId}', { params: { path: { userId: alice.id } } })).response.status, 204)
    t.equal((await sendText(bob, alice)).response.status, 403, 'alice\'s block still holds')
    t.equal((await alice.api.DELETE('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
    t.equal((await sendText(bob, alice)).response.status, 201, 'no block left')
  })

  t.test('blocking someone who is not a contact works too', async (t) => {
    const alice = await registerUser(baseUrl)
    const stranger = await registerUser(baseUrl)
    t.equal((await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: stranger.id } } })).response.status, 204)
    t.same((await alice.api.GET('/blocks')).data!.users.map((u) => u.id), [stranger.id])
    await addContact(stranger, alice)
    const sent = await sendText(stranger, alice)
    t.equal(sent.response.status, 403)
    t.match(sent.error, { code: 'BLOCKED' }, 'BLOCKED, even once they add the blocker as a contact')
    t.equal((await stranger.api.GET('/users', { params: { query: { search: alice.username } } })).data!.users.length, 0)
  })

  t.test('PUT again changes nothing; DELETE of no block is 204; self, unknown and malformed ids', async (t) => {
    const alice = await registerUser(baseUrl)
    const bob = await registerUser(baseUrl)
    const stream = await open(t, alice)
    for (let i = 0; i < 2; i++) t.equal((await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
    for (let i = 0; i < 2; i++) t.equal((await alice.api.DELETE('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
    await stream.waitFor((frames) => frames.some((f) => f.event === 'block.removed'), LONG)
    await sleep(100)
    t.same(stream.durable().map((e) => e.event), ['block.added', 'block.removed'], 'one event each: repeats change nothing')
    const self = await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: alice.id } } })
    t.equal(self.response.status, 400)
    t.match(self.error, { code: 'CANNOT_BLOCK_SELF' })
    const unknown = await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: randomUUID() } } })
    t.equal(unknown.response.status, 404)
    t.match(unknown.error, { code: 'USER_NOT_FOUND' })
    t.equal((await alice.api.DELETE('/blocks/{userId}', { params: { path: { userId: randomUUID() } } })).response.status, 204)
    t.equal((await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: 'nope' } } })).response.status, 400)
    t.equal((await apiClient(baseUrl).GET('/blocks')).response.status, 401)
  })

  t.test('a batch of concurrent sends: blocked ones are refused, the others go through', async (t) => {
    const { alice, bob } = await setup()
    const dave = await registerUser(baseUrl)
    await addContact(alice, dave)
    t.equal((await alice.api.PUT('/blocks/{userId}', { params: { path: { userId: bob.id } } })).response.status, 204)
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => i % 2 === 0 ? sendText(alice, bob, `b${i}`) : sendText(alice, dave, `d${i}`)))
    t.same(results.map((r) => r.response.status), Array.from({ length: 20 }, (_, i) => i % 2 === 0 ? 403 : 201))
  })
})
