// Edits, deletions and reactions on one instance reach both parties' streams on another, and a resume there
// from 0 no longer carries a deleted message.
import t from 'tap'
import { severalInstancesSkip as skip, startTwoInstances, type TestApp, usingPostgres } from './helpers/app.ts'
import { addContact, registerUser } from './helpers/client.ts'
import { dataOf, openStream, replayAll, sendText, via } from './helpers/messages.ts'

const LONG = 30_000

let a: TestApp
let b: TestApp
if (usingPostgres) [a, b] = await startTwoInstances(t)

t.test('edit, reactions and deletion made on one instance reach streams on the other', { skip }, async (t) => {
  const [alice, bob] = await Promise.all([registerUser(a.baseUrl), registerUser(a.baseUrl)])
  await addContact(alice, bob)
  const streams = await Promise.all([openStream(t, b.baseUrl, alice), openStream(t, b.baseUrl, bob), openStream(t, a.baseUrl, bob)])
  const secret = `cluster secret ${Date.now()}`
  const sent = await sendText(alice, bob, secret)
  const edited = await alice.api.PATCH('/messages/{messageId}', { params: { path: { messageId: sent.id } }, body: { content: `${secret}!` } })
  t.equal(edited.response.status, 200)
  const reacted = await bob.api.PUT('/messages/{messageId}/reactions/{emoji}', { params: { path: { messageId: sent.id, emoji: '🔥' } } })
  t.same(reacted.data!.reactions, [{ emoji: '🔥', userIds: [bob.id] }])
  for (const stream of streams) {
    await stream.waitFor(() => dataOf(stream, 'message.updated').length === 2, LONG, 'both updates')
    t.same(dataOf(stream, 'message.updated'), [edited.data, reacted.data])
  }

  const deleted = await via(b.baseUrl, alice).api.DELETE('/messages/{messageId}', { params: { path: { messageId: sent.id }, query: { for: 'everyone' } } })
  t.equal(deleted.response.status, 204)
  const onA = await openStream(t, a.baseUrl, alice)
  for (const stream of streams) {
    const event = JSON.parse((await stream.waitForEvent('message.deleted', LONG)).data)
    t.match(event, { messageId: sent.id, for: 'everyone' })
  }
  t.equal(dataOf(onA, 'message.deleted').length, 0, 'a stream opened after the deletion is not sent it again')
  for (const [user, peer] of [[alice, bob], [bob, alice]] as const) {
    const replay = await replayAll(t, a.baseUrl, user, () => sendText(peer, user, 'marker'))
    t.notOk(replay.some((e) => e.raw.includes(secret)), 'a resume from 0 on the other instance does not carry it')
    t.ok(replay.some((e) => e.event === 'message.deleted'), 'the deletion is replayed')
  }
})
