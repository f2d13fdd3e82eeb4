// The conversation list, read receipts (one message, or up to a message) with their events, and clearing a
// conversation for one side only.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'
import { openStream, type SseConnection } from './helpers/sse.ts'

const { baseUrl } = await startApp(t)

async function stream (user: TestUser): Promise<SseConnection> {
  return openStream(t, baseUrl, { token: user.token })
}

async function send (from: TestUser, to: TestUser, content: string) {
  const result = await from.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: to.id } }, body: { content } })
  if (result.response.status !== 201) throw new Error(`send answered ${result.response.status}`)
  return result.data!
}

const conversations = async (user: TestUser) => (await user.api.GET('/conversations')).data!.conversations
const history = async (user: TestUser, peer: TestUser) =>
  (await user.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: peer.id }, query: { limit: 200 } } })).data!.messages

function eventsOf (connection: SseConnection, type: string) {
  return connection.durable().filter((event) => event.event === type).map((event) => event.data)
}

t.test('conversations: most recent activity first, with the last message and unread counts', async (t) => {
  const [alice, bob, carol, dave] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl), registerUser(baseUrl), registerUser(baseUrl)])
  for (const peer of [bob, carol, dave]) await addContact(alice, peer)
  t.same(await conversations(alice), [], 'none before any message')
  const bobStream = await stream(bob)

  await send(bob, alice, 'from bob 1')
  await send(bob, alice, 'from bob 2')
  await send(alice, carol, 'to carol')
  const fromDave = await send(dave, alice, 'from dave')
  let list = await conversations(alice)
  t.same(list.map((c) => c.peer.id), [dave.id, carol.id, bob.id])
  t.same(list.map((c) => c.unreadCount), [1, 0, 2])
  t.same(list[0]!.lastMessage, fromDave)
  t.match(list[2]!.peer, { id: bob.id, username: bob.username, avatarUrl: null, online: true })
  t.equal(list[1]!.peer.online, false)

  const fromAlice = await send(alice, bob, 'back to bob')
  list = await conversations(alice)
  t.same(list.map((c) => c.peer.id), [bob.id, dave.id, carol.id], 'a new message moves its conversation to the top')
  t.same(list[0]!.lastMessage, fromAlice)
  t.equal(list[0]!.unreadCount, 2, 'my own messages are not unread for me')
  const bobsList = await conversations(bob)
  t.same(bobsList.map((c) => ({ peer: c.peer.id, unread: c.unreadCount, last: c.lastMessage?.id })), [{ peer: alice.id, unread: 1, last: fromAlice.id }])
  t.same(await conversations(carol).then((l) => l.map((c) => c.peer.id)), [alice.id], 'a third user sees only their own conversations')
  await bobStream.waitForEvent('message.created')
})

t.test('reading one message: receiver only, first readAt kept, message.read to both', async (t) => {
  const [alice, bob, carol] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl), registerUser(baseUrl)])
  await addContact(alice, bob)
  const [aliceStream, bobStream, carolStream] = await Promise.all([stream(alice), stream(bob), stream(carol)])
  const message = await send(alice, bob, 'read me')
  await send(alice, bob, 'and me')

  const read = await bob.api.POST('/messages/{messageId}/read', { params: { path: { messageId: message.id } } })
  t.equal(read.response.status, 200)
  t.equal(read.data?.id, message.id)
  const readAt = read.data!.readAt
  t.ok(Date.parse(readAt) >= Date.parse(message.createdAt))
  const expected = { messageIds: [message.id], readerId: bob.id, readAt }
  t.same(JSON.parse((await aliceStream.waitForEvent('message.read')).data), expected, 'the sender is told')
  t.same(JSON.parse((await bobStream.waitForEvent('message.read')).data), expected, 'the reader\'s other devices are told')

  const again = await bob.api.POST('/messages/{messageId}/read', { params: { path: { messageId: message.id } } })
  t.same(again.data, { id: message.id, readAt }, 'repeating keeps the first readAt')
  const bySender = await alice.api.POST('/messages/{messageId}/read', { params: { path: { messageId: message.id } } })
  t.equal(bySender.response.status, 403)
  t.equal(bySender.error?.code, 'NOT_MESSAGE_RECEIVER')
  const byThirdParty = await carol.api.POST('/messages/{messageId}/read', { params: { path: { messageId: message.id } } })
  t.equal(byThirdParty.response.status, 404)
  t.equal(byThirdParty.error?.code, 'MESSAGE_NOT_FOUND')
  const unknown = await bob.api.POST('/messages/{messageId}/read', { params: { path: { messageId: randomUUID() } } })
  t.equal(unknown.error?.code, 'MESSAGE_NOT_FOUND')
  const badId = await fetch(`${baseUrl}/messages/nope/read`, { method: 'POST', headers: { authorization: `Bearer ${bob.token}` } })
  t.equal(badId.status, 400)
  await badId.arrayBuffer()

  const seen = await history(alice, bob)
  t.equal(seen.find((m) => m.id === message.id)?.readAt, readAt, 'history shows readAt')
  t.equal((await conversations(bob))[0]!.unreadCount, 1)

  // A later event proves no second message.read was sent for the repeat.
  const marker = await send(alice, bob, 'marker')
  await aliceStream.waitFor((frames) => frames.some((f) => f.event === 'message.created' && JSON.parse(f.data).id === marker.id))
  t.equal(eventsOf(aliceStream, 'message.read').length, 1)
  t.same(eventsOf(carolStream, 'message.read'), [], 'nobody else is told')
})

t.test('reading up to a message marks only unread messages from the peer, once', async (t) => {
  const [alice, bob, carol] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl), registerUser(baseUrl)])
  await addContact(alice, bob)
  await addContact(carol, alice)
  const [aliceStream, bobStream] = await Promise.all([stream(alice), stream(bob)])
  const m1 = await send(alice, bob, 'm1')
  const m2 = await send(alice, bob, 'm2')
  const reply = await send(bob, alice, 'a reply in between')
  const m3 = await send(alice, bob, 'm3')
  const m4 = await send(alice, bob, 'm4')
  const m5 = await send(alice, bob, 'm5')
  await bob.api.POST('/messages/{messageId}/read', { params: { path: { messageId: m2.id } } })

  const first = await bob.api.POST('/conversations/{peerId}/read', { params: { path: { peerId: alice.id } }, body: { upTo: m3.id } })
  t.equal(first.response.status, 200)
  t.same(first.data?.messageIds, [m1.id, m3.id], 'm2 was already read; my own reply is not mine to mark')
  const event = { messageIds: [m1.id, m3.id], readerId: bob.id, readAt: first.data!.readAt }
  await aliceStream.waitFor((frames) => frames.filter((f) => f.event === 'message.read').length >= 2)
  t.same(eventsOf(aliceStream, 'message.read')[1], event)
  await bobStream.waitFor((frames) => frames.filter((f) => f.event === 'message.read').length >= 2)
  t.same(eventsOf(bobStream, 'message.read')[1], event)

  // upTo may be one's own message: everything from the peer before it.
  const second = await bob.api.POST('/conversations/{peerId}/read', { params: { path: { peerId: alice.id } }, body: { upTo: reply.id } })
  t.same(second.data?.messageIds, [], 'nothing left to mark before the reply')
  const third = await bob.api.POST('/conversations/{peerId}/read', { params: { path: { peerId: alice.id } }, body: { upTo: m5.id } })
  t.same(third.data?.messageIds, [m4.id, m5.id])
  const fourth = await bob.api.POST('/conversations/{peerId}/read', { params: { path: { peerId: alice.id } }, body: { upTo: m5.id } })
  t.same(fourth.data?.messageIds, [])
  t.equal((await conversations(bob))[0]!.unreadCount, 0)
  t.equal((await conversations(alice))[0]!.unreadCount, 1, 'bob\'s reply is still unread for alice')
  const marks = (await history(alice, bob)).filter((m) => m.senderId === alice.id).map((m) => m.readAt !== null)
  t.same(marks, [true, true, true, true, true])

  const foreign = await send(carol, alice, 'another pair')
  const notInConversation = await bob.api.POST('/conversations/{peerId}/read', { params: { path: { peerId: alice.id } }, body: { upTo: foreign.id } })
  t.equal(notInConversation.response.status, 404)
  t.equal(notInConversation.error?.code, 'MESSAGE_NOT_FOUND')
  const unknownPeer = await bob.api.POST('/conversations/{peerId}/read', { params: { path: { peerId: randomUUID() } }, body: { upTo: m1.id } })
  t.equal(unknownPeer.error?.code, 'USER_NOT_FOUND')
  const self = await bob.api.POST('/conversations/{peerId}/read', { params: { path: { peerId: bob.id } }, body: { upTo: m1.id } })
  t.equal(self.error?.code, 'CANNOT_MESSAGE_SELF')
  const invalid = await fetch(`${baseUrl}/conversations/${alice.id}/read`, { method: 'POST', body: JSON.stringify({ upTo: m1.id, extra: 1 }), headers: { authorization: `Bearer ${bob.token}`, 'content-type': 'application/json' } })
  t.equal(invalid.status, 400)
  t.match(await invalid.json(), { code: 'VALIDATION_ERROR', message: /extra/ })

  const marker = await send(bob, alice, 'marker')
  await aliceStream.waitFor((frames) => frames.some((f) => f.event === 'message.created' && JSON.parse(f.data).id === marker.id))
  t.equal(eventsOf(aliceStream, 'message.read').length, 3, 'no event when nothing was marked')
})

t.test('clearing hides the conversation from the caller only; later messages show', async (t) => {
  const [alice, bob, carol] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl), registerUser(baseUrl)])
  await addContact(alice, bob)
  const [aliceStream, bobStream] = await Promise.all([stream(alice), stream(bob)])
  const sent = [await send(alice, bob, 'one'), await send(bob, alice, 'two'), await send(bob, alice, 'three')]

  const cleared = await alice.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } } })
  t.equal(cleared.response.status, 204)
  const event = JSON.parse((await aliceStream.waitForEvent('history.cleared')).data)
  t.equal(event.peerId, bob.id)
  t.ok(Date.parse(event.clearedAt) > 0)

  t.same(await history(alice, bob), [], 'gone for the one who cleared')
  t.same((await history(bob, alice)).map((m) => m.id), sent.map((m) => m.id).reverse(), 'the peer keeps their copy')
  t.same((await conversations(alice)).map((c) => ({ peer: c.peer.id, last: c.lastMessage, unread: c.unreadCount })), [{ peer: bob.id, last: null, unread: 0 }])
  t.same((await conversations(bob)).map((c) => ({ last: c.lastMessage?.id, unread: c.unreadCount })), [{ last: sent[2]!.id, unread: 1 }], 'the peer\'s unread count is untouched')
  t.same((await conversations(bob))[0]!.lastMessage, { ...sent[2]!, readAt: null })
  const beforeCleared = await alice.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id }, query: { before: sent[2]!.id } } })
  t.same(beforeCleared.data, { messages: [], hasMore: false })
  // Reading up to a cleared message marks nothing: the caller no longer has those messages.
  const readCleared = await alice.api.POST('/conversations/{peerId}/read', { params: { path: { peerId: bob.id } }, body: { upTo: sent[2]!.id } })
  t.same(readCleared.data?.messageIds, [])

  const later = await send(bob, alice, 'after the clear')
  t.same((await history(alice, bob)).map((m) => m.id), [later.id])
  const list = await conversations(alice)
  t.same(list[0]!.lastMessage, later)
  t.equal(list[0]!.unreadCount, 1)
  t.equal((await history(bob, alice)).length, 4)

  const unknown = await alice.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: randomUUID() } } })
  t.equal(unknown.error?.code, 'USER_NOT_FOUND')
  const self = await alice.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id } } })
  t.equal(self.error?.code, 'CANNOT_MESSAGE_SELF')
  const nothingYet = await alice.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: carol.id } } })
  t.equal(nothingYet.response.status, 204, 'clearing a conversation with no messages is fine')
  t.same((await conversations(alice)).map((c) => c.peer.id), [bob.id], 'and does not list it')

  await send(alice, bob, 'marker')
  await bobStream.waitFor((frames) => frames.filter((f) => f.event === 'message.created').length >= 5)
  t.same(eventsOf(bobStream, 'history.cleared'), [], 'the peer is not told')
  t.equal(eventsOf(aliceStream, 'history.cleared').length, 2)
})
