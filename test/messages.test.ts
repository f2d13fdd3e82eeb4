// Sending text messages: the messaging policy, validation, idempotent ids, events to both parties, history
// paging, and many senders at once.
import { randomUUID } from 'node:crypto'
import { and, eq } from 'drizzle-orm'
import t from 'tap'
import { messages } from '../src/db/schema.ts'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'
import { openStream, type SseConnection } from './helpers/sse.ts'

const { app, baseUrl } = await startApp(t)

async function stream (user: TestUser): Promise<SseConnection> {
  return openStream(t, baseUrl, { token: user.token })
}

function send (from: TestUser, to: string, body: { id?: string, content: string }) {
  return from.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: to } }, body })
}

/** Sends raw JSON (for inputs the typed client cannot express). */
async function sendRaw (from: TestUser, to: string, json: string) {
  const response = await fetch(`${baseUrl}/conversations/${to}/messages`, {
    method: 'POST',
    body: json,
    headers: { authorization: `Bearer ${from.token}`, 'content-type': 'application/json' }
  })
  return { status: response.status, body: await response.json() as any }
}

const alice = await registerUser(baseUrl)
const bob = await registerUser(baseUrl)
const carol = await registerUser(baseUrl)
const stranger = await registerUser(baseUrl)
// Only alice has bob: that is enough for both directions.
await addContact(alice, bob)
await addContact(carol, alice)

t.test('a text reaches every stream of the sender and of the receiver', async (t) => {
  const [aliceTab1, aliceTab2, bobStream, carolStream] = await Promise.all([stream(alice), stream(alice), stream(bob), stream(carol)])
  const sent = await send(alice, bob.id, { content: 'Hello Bob' })
  t.equal(sent.response.status, 201)
  const message = sent.data!
  t.match(message, { senderId: alice.id, receiverId: bob.id, kind: 'text', content: 'Hello Bob', file: null, readAt: null })
  t.match(message.id, /^[0-9a-f-]{36}$/)
  t.ok(Date.parse(message.createdAt) > 0)
  for (const connection of [aliceTab1, aliceTab2, bobStream]) {
    const frame = await connection.waitForEvent('message.created')
    t.same(JSON.parse(frame.data), message)
    t.match(frame.id, /^\d+$/)
  }
  // The reply direction works too, though bob does not have alice as a contact.
  const reply = await send(bob, alice.id, { content: 'Hi Alice' })
  t.equal(reply.response.status, 201)
  t.same(JSON.parse((await aliceTab1.waitForEvent('message.created')).data), reply.data)
  t.same(JSON.parse((await bobStream.waitForEvent('message.created')).data), reply.data)
  // A third user hears nothing of it.
  const own = await send(carol, alice.id, { content: 'marker' })
  t.equal(own.response.status, 201)
  await carolStream.waitForEvent('message.created')
  t.same(carolStream.durable().filter((event) => event.event === 'message.created').map((event) => event.data.id), [own.data!.id])
})

t.test('the messaging policy', async (t) => {
  const notContact = await send(alice, stranger.id, { content: 'hi' })
  t.equal(notContact.response.status, 403)
  t.match(notContact.error, { statusCode: 403, code: 'NOT_A_CONTACT', error: 'Forbidden' })
  const toSelf = await send(alice, alice.id, { content: 'hi' })
  t.equal(toSelf.response.status, 400)
  t.equal(toSelf.error?.code, 'CANNOT_MESSAGE_SELF')
  const unknown = await send(alice, randomUUID(), { content: 'hi' })
  t.equal(unknown.response.status, 404)
  t.equal(unknown.error?.code, 'USER_NOT_FOUND')
  const badId = await sendRaw(alice, 'not-a-uuid', JSON.stringify({ content: 'hi' }))
  t.equal(badId.status, 400)
  t.equal(badId.body.code, 'VALIDATION_ERROR')
  const noToken = await fetch(`${baseUrl}/conversations/${bob.id}/messages`, { method: 'POST', body: '{"content":"hi"}', headers: { 'content-type': 'application/json' } })
  t.equal(noToken.status, 401)
  t.equal((await noToken.json() as any).code, 'AUTH_REQUIRED')
  t.equal(await app.db.$count(messages, eq(messages.receiverId, stranger.id)), 0)
})

t.test('content limits: 1-10,000 code points, stored exactly, no NUL or unpaired surrogate', async (t) => {
  const empty = await send(alice, bob.id, { content: '' })
  t.equal(empty.response.status, 400)
  t.match(empty.error?.message, /content/)
  // 10,000 code points of 2 UTF-16 units each: the limit counts characters, not units or bytes.
  const longest = '😀'.repeat(10000)
  const atLimit = await send(alice, bob.id, { content: longest })
  t.equal(atLimit.response.status, 201)
  t.equal(atLimit.data?.content, longest)
  const over = await send(alice, bob.id, { content: 'a'.repeat(10001) })
  t.equal(over.response.status, 400)
  t.equal(over.error?.code, 'VALIDATION_ERROR')
  const exact = '  spaced\ttext\n\u0065\u0301 vs \u00e9  '
  const kept = await send(alice, bob.id, { content: exact })
  t.equal(kept.response.status, 201)
  const page = await bob.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id }, query: { limit: 1 } } })
  t.equal(page.data?.messages[0]?.content, exact, 'stored and returned without trimming or normalization')
  const nul = await sendRaw(alice, bob.id, '{"content":"a\\u0000b"}')
  t.equal(nul.status, 400)
  t.match(nul.body, { code: 'VALIDATION_ERROR', message: /content/ })
  const surrogate = await sendRaw(alice, bob.id, '{"content":"a\\ud800b"}')
  t.equal(surrogate.status, 400)
  t.match(surrogate.body, { code: 'VALIDATION_ERROR', message: /content/ })
  const unknownProperty = await sendRaw(alice, bob.id, JSON.stringify({ content: 'hi', senderId: carol.id }))
  t.equal(unknownProperty.status, 400)
  t.match(unknownProperty.body.message, /senderId/)
  const badMessageId = await sendRaw(alice, bob.id, JSON.stringify({ id: 'abc', content: 'hi' }))
  t.equal(badMessageId.status, 400)
  const notJson = await sendRaw(alice, bob.id, '{"content":')
  t.equal(notJson.status, 400)
  t.equal(notJson.body.code, 'INVALID_JSON')
})

t.test('a retried send with the same id stores and delivers once; a different reuse is 409', async (t) => {
  const bobStream = await stream(bob)
  const id = randomUUID()
  const first = await send(alice, bob.id, { id, content: 'only once' })
  t.equal(first.response.status, 201)
  t.equal(first.data?.id, id)
  const retry = await send(alice, bob.id, { id, content: 'only once' })
  t.equal(retry.response.status, 200)
  t.same(retry.data, first.data)
  const upper = await send(alice, bob.id, { id: id.toUpperCase(), content: 'only once' })
  t.equal(upper.response.status, 200, 'the id is a UUID, whatever its case')

  for (const [what, response] of [
    ['other content', await send(alice, bob.id, { id, content: 'changed' })],
    ['other peer', await send(alice, carol.id, { id, content: 'only once' })],
    ['other sender', await send(bob, alice.id, { id, content: 'only once' })]
  ] as const) {
    t.equal(response.response.status, 409, what)
    t.equal(response.error?.code, 'MESSAGE_ID_CONFLICT', what)
  }
  t.equal(await app.db.$count(messages, eq(messages.id, id)), 1)

  // Concurrent sends with one id: one stores, the others are answered as retries.
  const raceId = randomUUID()
  const raced = await Promise.all(Array.from({ length: 6 }, () => send(alice, bob.id, { id: raceId, content: 'raced' })))
  t.same(raced.map((r) => r.response.status).sort(), [200, 200, 200, 200, 200, 201])
  t.equal(await app.db.$count(messages, eq(messages.id, raceId)), 1)

  const marker = await send(alice, bob.id, { content: 'marker' })
  await bobStream.waitFor((frames) => frames.some((frame) => frame.event === 'message.created' && JSON.parse(frame.data).id === marker.data!.id))
  const delivered = bobStream.durable().filter((event) => event.event === 'message.created').map((event) => event.data.id)
  t.same(delivered, [id, raceId, marker.data!.id], 'each message delivered exactly once')
})

t.test('history pages cover a conversation exactly once, newest first', async (t) => {
  const erin = await registerUser(baseUrl)
  const frank = await registerUser(baseUrl)
  await addContact(frank, erin)
  const sent: string[] = []
  for (let i = 0; i < 120; i++) {
    const from = i % 3 === 0 ? frank : erin
    const result = await send(from, from === erin ? frank.id : erin.id, { content: `message ${i}` })
    sent.push(result.data!.id)
  }
  const seen: string[] = []
  const sizes: number[] = []
  const more: boolean[] = []
  let before: string | undefined
  for (;;) {
    const page = await erin.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: frank.id }, query: before === undefined ? { limit: 50 } : { limit: 50, before } } })
    t.equal(page.response.status, 200)
    sizes.push(page.data!.messages.length)
    more.push(page.data!.hasMore)
    seen.push(...page.data!.messages.map((message) => message.id))
    if (!page.data!.hasMore) break
    before = page.data!.messages.at(-1)!.id
  }
  t.same(sizes, [50, 50, 20])
  t.same(more, [true, true, false])
  t.same(seen, [...sent].reverse(), 'every message once, newest first')
  const frankView = await frank.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: erin.id }, query: { limit: 200 } } })
  t.same(frankView.data?.messages.map((message) => message.id), [...sent].reverse(), 'the same conversation from the other side')
  t.equal(frankView.data?.hasMore, false)
  const defaultPage = await frank.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: erin.id } } })
  t.equal(defaultPage.data?.messages.length, 50, 'limit defaults to 50')

  const oldest = await erin.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: frank.id }, query: { before: sent[0]! } } })
  t.same(oldest.data, { messages: [], hasMore: false })
  for (const limit of [0, 201]) {
    const bad = await erin.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: frank.id }, query: { limit } } })
    t.equal(bad.response.status, 400, `limit ${limit}`)
    t.match(bad.error?.message, /limit/)
  }
  // A third user cannot use another pair's message as a cursor, nor learn it exists.
  const foreign = await carol.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: erin.id }, query: { before: sent[5]! } } })
  t.equal(foreign.response.status, 404)
  t.equal(foreign.error?.code, 'MESSAGE_NOT_FOUND')
  const unknownCursor = await erin.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: frank.id }, query: { before: randomUUID() } } })
  t.equal(unknownCursor.error?.code, 'MESSAGE_NOT_FOUND')
  const unknownPeer = await erin.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: randomUUID() } } })
  t.equal(unknownPeer.error?.code, 'USER_NOT_FOUND')
  const self = await erin.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: erin.id } } })
  t.equal(self.error?.code, 'CANNOT_MESSAGE_SELF')
  const thirdParty = await carol.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: frank.id } } })
  t.same(thirdParty.data, { messages: [], hasMore: false }, 'a third user sees only their own conversation with a user')
})

t.test('10 senders sending 50 messages each at once: 500 stored, each delivered once, each sender\'s order kept', async (t) => {
  const receiver = await registerUser(baseUrl)
  const senders = await Promise.all(Array.from({ length: 10 }, () => registerUser(baseUrl)))
  for (const sender of senders) await addContact(sender, receiver)
  const receiverStream = await stream(receiver)
  await Promise.all(senders.map(async (sender, s) => {
    for (let i = 0; i < 50; i++) {
      const result = await send(sender, receiver.id, { content: `${s}:${i}` })
      if (result.response.status !== 201) throw new Error(`send ${s}:${i} answered ${result.response.status}`)
    }
  }))
  t.equal(await app.db.$count(messages, eq(messages.receiverId, receiver.id)), 500)
  await receiverStream.waitFor((frames) => frames.filter((frame) => frame.event === 'message.created').length >= 500, 30_000, '500 messages')
  const created = receiverStream.durable().filter((event) => event.event === 'message.created')
  t.equal(created.length, 500)
  t.equal(new Set(created.map((event) => event.data.id)).size, 500, 'no message delivered twice')
  const ids = created.map((event) => event.id)
  t.ok(ids.every((id, i) => i === 0 || id > ids[i - 1]!), 'event ids strictly increase')
  for (const [s, sender] of senders.entries()) {
    const order = created.filter((event) => event.data.senderId === sender.id).map((event) => Number(event.data.content.split(':')[1]))
    t.same(order, Array.from({ length: 50 }, (_, i) => i), `sender ${s} in order`)
    t.equal(await app.db.$count(messages, and(eq(messages.senderId, sender.id), eq(messages.receiverId, receiver.id))), 50)
  }
})

t.test('a revoked token stores nothing, and live sends in the same batch go through', async (t) => {
  const receiver = await registerUser(baseUrl)
  const live = await registerUser(baseUrl)
  const revoked = await registerUser(baseUrl)
  await addContact(receiver, live)
  await addContact(receiver, revoked)
  const receiverStream = await stream(receiver)
  t.equal((await revoked.api.POST('/auth/logout')).response.status, 204)
  // Sent at once, so that the live ones share batches: the revoked ones are refused without failing them.
  const results = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i % 2 === 0 ? live : revoked, receiver.id, { content: `batch ${i}` })))
  results.forEach((result, i) => {
    if (i % 2 === 0) t.equal(result.response.status, 201, `live send ${i}`)
    else t.equal(result.error?.code, 'TOKEN_INVALID', `revoked send ${i}: 401`)
  })
  t.equal(results[1]!.response.status, 401)
  t.equal(await app.db.$count(messages, eq(messages.senderId, revoked.id)), 0, 'nothing stored from the revoked session')
  t.equal(await app.db.$count(messages, eq(messages.senderId, live.id)), 20)
  await receiverStream.waitFor((frames) => frames.filter((frame) => frame.event === 'message.created').length >= 20, 30_000, '20 messages')
  const senders = new Set(receiverStream.durable().filter((event) => event.event === 'message.created').map((event) => event.data.senderId))
  t.same([...senders], [live.id], 'only the live sender\'s messages were delivered')

  // The session is checked before anything else about the request.
  t.equal((await send(revoked, receiver.id, { content: '' })).error?.code, 'TOKEN_INVALID', 'an invalid body: 401 first')
  t.equal((await send(revoked, revoked.id, { content: 'me' })).error?.code, 'TOKEN_INVALID', 'a send to yourself: 401 first')
  t.equal((await send(revoked, randomUUID(), { content: 'nobody' })).error?.code, 'TOKEN_INVALID', 'an unknown peer: 401 first')
})

t.test('a read receipt with a revoked token marks nothing', async (t) => {
  const sender = await registerUser(baseUrl)
  const reader = await registerUser(baseUrl)
  await addContact(sender, reader)
  const sent = await send(sender, reader.id, { content: 'read me later' })
  t.equal((await reader.api.POST('/auth/logout')).response.status, 204)
  const refused = await reader.api.POST('/messages/{messageId}/read', { params: { path: { messageId: sent.data!.id } } })
  t.equal(refused.response.status, 401)
  t.equal(refused.error?.code, 'TOKEN_INVALID')
  const [row] = await app.db.select({ readAt: messages.readAt }).from(messages).where(eq(messages.id, sent.data!.id))
  t.equal(row!.readAt, null, 'still unread')
  const unknown = await reader.api.POST('/messages/{messageId}/read', { params: { path: { messageId: randomUUID() } } })
  t.equal(unknown.error?.code, 'TOKEN_INVALID', 'an unknown message: still 401 first')
})
