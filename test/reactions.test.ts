// Reactions: grouped by emoji in order of first use, idempotent, bounded per user, message.updated to both, and
// concurrent reactions of both users never losing one.
import { randomUUID } from 'node:crypto'
import t from 'tap'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'
import { dataOf, history, openStream, sendText } from './helpers/messages.ts'

const { baseUrl } = await startApp(t)

async function pair (): Promise<[TestUser, TestUser]> {
  const [alice, bob] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl)])
  await addContact(alice, bob)
  return [alice, bob]
}

function react (user: TestUser, messageId: string, emoji: string, method: 'PUT' | 'DELETE' = 'PUT') {
  const options = { params: { path: { messageId, emoji } } }
  return method === 'PUT' ? user.api.PUT('/messages/{messageId}/reactions/{emoji}', options) : user.api.DELETE('/messages/{messageId}/reactions/{emoji}', options)
}

/** A raw request, for path values the typed client would encode differently. */
async function reactRaw (user: TestUser, path: string): Promise<{ status: number, code?: string }> {
  const response = await fetch(`${baseUrl}${path}`, { method: 'PUT', headers: { authorization: `Bearer ${user.token}` } })
  return { status: response.status, code: (await response.json() as { code?: string }).code }
}

t.test('reactions group by emoji in order of first use; both parties get message.updated', async (t) => {
  const [alice, bob] = await pair()
  const [aliceStream, bobStream] = await Promise.all([openStream(t, baseUrl, alice), openStream(t, baseUrl, bob)])
  const sent = await sendText(alice, bob, 'react to me')
  const first = await react(bob, sent.id, '👍')
  t.equal(first.response.status, 200)
  t.same(first.data!.reactions, [{ emoji: '👍', userIds: [bob.id] }])
  await react(alice, sent.id, '🎉')
  const third = await react(alice, sent.id, '👍')
  t.same(third.data!.reactions, [{ emoji: '👍', userIds: [bob.id, alice.id] }, { emoji: '🎉', userIds: [alice.id] }])
  // A sequence of several code points (ZWJ) is one reaction.
  const family = await react(bob, sent.id, '👨‍👩‍👧')
  t.same(family.data!.reactions.map((r) => r.emoji), ['👍', '🎉', '👨‍👩‍👧'])
  for (const stream of [aliceStream, bobStream]) {
    await stream.waitFor(() => dataOf(stream, 'message.updated').length === 4)
    t.same(dataOf(stream, 'message.updated').at(-1), family.data)
  }

  const twice = await react(bob, sent.id, '👍')
  t.equal(twice.response.status, 200, 'adding one twice changes nothing')
  t.same(twice.data, family.data)
  const removed = await react(alice, sent.id, '🎉', 'DELETE')
  t.same(removed.data!.reactions, [{ emoji: '👍', userIds: [bob.id, alice.id] }, { emoji: '👨‍👩‍👧', userIds: [bob.id] }], 'a group left empty goes')
  const notThere = await react(alice, sent.id, '🎉', 'DELETE')
  t.equal(notThere.response.status, 200, 'removing one that is not there changes nothing')
  t.same(notThere.data, removed.data)
  const moved = await react(bob, sent.id, '👍', 'DELETE')
  t.same(moved.data!.reactions, [{ emoji: '👍', userIds: [alice.id] }, { emoji: '👨‍👩‍👧', userIds: [bob.id] }])

  await sendText(alice, bob, 'marker')
  for (const stream of [aliceStream, bobStream]) {
    await stream.waitFor(() => dataOf(stream, 'message.created').length === 2)
    t.equal(dataOf(stream, 'message.updated').length, 6, 'no event for changes that changed nothing')
  }
  t.same((await history(bob, alice))[1]!.reactions, moved.data!.reactions, 'history carries reactions')
})

t.test('each user adds at most 20 different reactions to a message', async (t) => {
  const [alice, bob] = await pair()
  const sent = await sendText(alice, bob, 'many')
  for (let i = 0; i < 20; i++) t.equal((await react(bob, sent.id, `r${i}`)).response.status, 200)
  const over = await react(bob, sent.id, 'r20')
  t.equal(over.response.status, 409)
  t.equal(over.error?.code, 'TOO_MANY_REACTIONS')
  t.equal((await react(bob, sent.id, 'r3')).response.status, 200, 'one already added is still fine')
  t.equal((await react(alice, sent.id, 'r20')).response.status, 200, 'the limit is per user')
  await react(bob, sent.id, 'r0', 'DELETE')
  const after = await react(bob, sent.id, 'r20')
  t.equal(after.response.status, 200, 'room again after removing one')
  t.same(after.data!.reactions.find((r) => r.emoji === 'r20')!.userIds, [alice.id, bob.id])
})

t.test('reaction errors: bad emoji or id 400, strangers and gone messages 404', async (t) => {
  const [alice, bob] = await pair()
  const stranger = await registerUser(baseUrl)
  const sent = await sendText(alice, bob, 'hi')
  for (const emoji of ['%20', 'a%20b', '%09', '%0A', 'x'.repeat(17), '%E2%80%8B%0D']) {
    const result = await reactRaw(alice, `/messages/${sent.id}/reactions/${emoji}`)
    t.equal(result.status, 400, `emoji ${emoji}`)
    t.equal(result.code, 'VALIDATION_ERROR')
  }
  t.equal((await reactRaw(alice, `/messages/${sent.id}/reactions/${'😀'.repeat(16)}`)).status, 200, '16 code points are fine')
  t.equal((await reactRaw(alice, '/messages/not-a-uuid/reactions/x')).status, 400)
  for (const [who, id] of [[stranger, sent.id], [alice, randomUUID()]] as const) {
    const result = await react(who, id, '👍')
    t.equal(result.response.status, 404)
    t.equal(result.error?.code, 'MESSAGE_NOT_FOUND')
  }
  await alice.api.DELETE('/messages/{messageId}', { params: { path: { messageId: sent.id } } })
  t.equal((await react(alice, sent.id, '👍')).error?.code, 'MESSAGE_NOT_FOUND', 'deleted for me: 404')
  t.equal((await react(bob, sent.id, '👍')).response.status, 200, 'the peer still sees it')
  const anonymous = await fetch(`${baseUrl}/messages/${sent.id}/reactions/x`, { method: 'PUT' })
  t.equal(anonymous.status, 401)
})

t.test('both users reacting at once: neither reaction is lost (20 rounds)', async (t) => {
  const [alice, bob] = await pair()
  for (let round = 0; round < 20; round++) {
    const sent = await sendText(alice, bob, `round ${round}`)
    const emoji = round % 2 === 0 ? '❤️' : `e${round}`
    const [a, b] = await Promise.all([react(alice, sent.id, emoji), react(bob, sent.id, emoji)])
    t.equal(a.response.status, 200)
    t.equal(b.response.status, 200)
    const stored = (await history(alice, bob))[0]!
    t.equal(stored.id, sent.id)
    t.equal(stored.reactions.length, 1, `round ${round}: one group`)
    t.same([...stored.reactions[0]!.userIds].sort(), [alice.id, bob.id].sort(), `round ${round}: both recorded`)
  }
})
