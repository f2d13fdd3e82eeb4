// Typing indicators: to the peer's streams only, on every instance, coalesced to one a second per pair, never
// stored or replayed, and only between users who may message each other.
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { events } from '../src/db/schema.ts'
import { TYPING_WINDOW_MS } from '../src/features/events/typing.ts'
import { createTestDatabase, startApp, usingPostgres } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'
import { dataOf, openStream, replayAll, sendText, via } from './helpers/messages.ts'

const databaseUrl = await createTestDatabase(t)
const a = await startApp(t, { databaseUrl })
const { baseUrl, app } = a

function typing (user: TestUser, peerId: string, value: unknown) {
  return user.api.POST('/conversations/{peerId}/typing', { params: { path: { peerId } }, body: { typing: value } as { typing: boolean } })
}

async function pair (): Promise<[TestUser, TestUser]> {
  const [alice, bob] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl)])
  await addContact(alice, bob)
  return [alice, bob]
}

t.test('typing reaches the peer\'s streams, without id, and nobody else', async (t) => {
  const [alice, bob] = await pair()
  const [aliceStream, bobTab1, bobTab2] = await Promise.all([openStream(t, baseUrl, alice), openStream(t, baseUrl, bob), openStream(t, baseUrl, bob)])
  const storedBefore = await app.db.$count(events)
  const sent = await typing(alice, bob.id, true)
  t.equal(sent.response.status, 204)
  for (const stream of [bobTab1, bobTab2]) {
    const frame = await stream.waitForEvent('typing')
    t.equal(frame.id, undefined, 'no id: not durable')
    t.same(JSON.parse(frame.data), { userId: alice.id, typing: true })
  }
  // The other direction works though only alice has bob as a contact.
  await sleep(TYPING_WINDOW_MS)
  t.equal((await typing(bob, alice.id, false)).response.status, 204)
  t.same(JSON.parse((await aliceStream.waitForEvent('typing')).data), { userId: bob.id, typing: false })
  t.equal(dataOf(aliceStream, 'typing').length, 1, 'the typist\'s own streams are not told')
  t.equal(await app.db.$count(events), storedBefore, 'nothing stored')

  const replay = await replayAll(t, baseUrl, bob, () => sendText(alice, bob, 'marker'))
  t.same(replay.map((e) => e.event), ['message.created'], 'a resume from 0 replays no typing')
})

t.test('coalesced: a burst becomes at most one event a second per pair, and the last state arrives', async (t) => {
  const [alice, bob] = await pair()
  const carol = await registerUser(baseUrl)
  await addContact(alice, carol)
  const [bobStream, carolStream] = await Promise.all([openStream(t, baseUrl, bob), openStream(t, baseUrl, carol)])
  const started = Date.now()
  const burst = await Promise.all(Array.from({ length: 10 }, () => typing(alice, bob.id, true)))
  t.ok(burst.every((r) => r.response.status === 204))
  await typing(alice, carol.id, true)
  t.equal((await typing(alice, bob.id, false)).response.status, 204)
  await bobStream.waitFor(() => dataOf(bobStream, 'typing').some((e) => !e.typing), 10_000, 'the stop')
  // However slow the machine, no more than one event per started second (plus the trailing one) reaches bob.
  const bound = Math.ceil((Date.now() - started) / TYPING_WINDOW_MS) + 1
  await sleep(TYPING_WINDOW_MS * 1.5)
  const seen = dataOf(bobStream, 'typing')
  t.ok(seen.length <= bound && seen.length < 11, `${seen.length} events for 11 requests (at most ${bound})`)
  t.same(seen[0], { userId: alice.id, typing: true }, 'the first at once')
  t.same(seen.at(-1), { userId: alice.id, typing: false }, 'the last state arrives')
  t.same(dataOf(carolStream, 'typing'), [{ userId: alice.id, typing: true }], 'another pair is not held back')
})

t.test('typing is refused between users who may not message each other, and for bad input', async (t) => {
  const [alice, bob] = await pair()
  const stranger = await registerUser(baseUrl)
  const bobStream = await openStream(t, baseUrl, bob)
  const refused = await typing(stranger, bob.id, true)
  t.equal(refused.response.status, 403)
  t.equal(refused.error?.code, 'NOT_A_CONTACT')
  t.equal((await typing(alice, alice.id, true)).error?.code, 'CANNOT_MESSAGE_SELF')
  const unknown = await typing(alice, randomUUID(), true)
  t.equal(unknown.response.status, 404)
  t.equal(unknown.error?.code, 'USER_NOT_FOUND')
  for (const body of ['{}', '{"typing":"yes"}', '{"typing":true,"to":"x"}', 'not json']) {
    const response = await fetch(`${baseUrl}/conversations/${bob.id}/typing`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body })
    t.equal(response.status, 400, body)
  }
  const badPeer = await fetch(`${baseUrl}/conversations/nope/typing`, { method: 'POST', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: '{"typing":true}' })
  t.equal(badPeer.status, 400)
  const anonymous = await fetch(`${baseUrl}/conversations/${bob.id}/typing`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"typing":true}' })
  t.equal(anonymous.status, 401)
  await sendText(alice, bob, 'marker')
  await bobStream.waitForEvent('message.created')
  t.same(dataOf(bobStream, 'typing'), [], 'nothing reached the peer')
})

t.test('typing crosses instances', { skip: usingPostgres ? false : 'several instances need PostgreSQL: set DATABASE_URL' }, async (t) => {
  const b = await startApp(t, { databaseUrl })
  const [alice, bob] = await pair()
  const [bobOnA, bobOnB] = await Promise.all([openStream(t, baseUrl, bob), openStream(t, b.baseUrl, bob)])
  t.equal((await typing(via(b.baseUrl, alice), bob.id, true)).response.status, 204)
  for (const stream of [bobOnA, bobOnB]) t.same(JSON.parse((await stream.waitForEvent('typing', 30_000)).data), { userId: alice.id, typing: true })
})
