// Editing and deleting messages: who may, what each side then sees (history, conversation list, unread count,
// files), the events on both sides, erasure from the replayable log, and the idempotency rule after an edit.
import { randomBytes, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { like } from 'drizzle-orm'
import t from 'tap'
import { events } from '../src/db/schema.ts'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'
import { conversationWith, dataOf, history, type Message, openStream, replayAll, sendText } from './helpers/messages.ts'
import { upload } from './helpers/upload.ts'

const { app, baseUrl, config } = await startApp(t)
const filesDir = join(config.dataDir, 'files')

async function pair (): Promise<[TestUser, TestUser]> {
  const [alice, bob] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl)])
  await addContact(alice, bob)
  return [alice, bob]
}

function edit (user: TestUser, messageId: string, content: unknown) {
  return user.api.PATCH('/messages/{messageId}', { params: { path: { messageId } }, body: { content } as { content: string } })
}

function remove (user: TestUser, messageId: string, scope?: 'me' | 'everyone') {
  return user.api.DELETE('/messages/{messageId}', { params: { path: { messageId }, query: scope === undefined ? {} : { for: scope } } })
}

async function sendFile (from: TestUser, to: TestUser): Promise<Message> {
  const sent = await upload(baseUrl, from.token, `/conversations/${to.id}/files`, { bytes: randomBytes(2048), name: 'notes.bin' })
  if (sent.status !== 201) throw new Error(`upload ${sent.status}`)
  return sent.body as Message
}

/** Stored events (of anyone) whose data contains the text. */
async function storedEventsContaining (text: string): Promise<number> {
  return (await app.db.select({ id: events.id }).from(events).where(like(events.data, `%${text}%`))).length
}

t.test('the sender edits a text: editedAt, history, conversation list and message.updated to both', async (t) => {
  const [alice, bob] = await pair()
  const [aliceStream, bobStream] = await Promise.all([openStream(t, baseUrl, alice), openStream(t, baseUrl, bob)])
  const sent = await sendText(alice, bob, 'helo')
  t.equal(sent.editedAt, null)
  t.same(sent.reactions, [])
  const edited = await edit(alice, sent.id, 'hello')
  t.equal(edited.response.status, 200)
  const message = edited.data!
  t.match(message, { id: sent.id, content: 'hello', createdAt: sent.createdAt, kind: 'text' })
  t.ok(Date.parse(message.editedAt!) >= Date.parse(sent.createdAt), 'editedAt set')
  for (const stream of [aliceStream, bobStream]) {
    const frame = await stream.waitForEvent('message.updated')
    t.match(frame.id, /^\d+$/, 'durable')
    t.same(JSON.parse(frame.data), message)
  }
  t.same((await history(bob, alice))[0], message)
  t.same((await conversationWith(bob, alice))!.lastMessage, message)
  t.same((await conversationWith(alice, bob))!.lastMessage, message)

  const again = await edit(alice, sent.id, 'hello again')
  t.ok(Date.parse(again.data!.editedAt!) >= Date.parse(message.editedAt!), 'each edit moves editedAt')
})

t.test('edit errors: receiver 403, file 400, anyone else and gone messages 404, bad input 400', async (t) => {
  const [alice, bob] = await pair()
  const stranger = await registerUser(baseUrl)
  const text = await sendText(alice, bob, 'mine')
  const byReceiver = await edit(bob, text.id, 'theirs')
  t.equal(byReceiver.response.status, 403)
  t.equal(byReceiver.error?.code, 'NOT_MESSAGE_SENDER')
  const file = await sendFile(alice, bob)
  const fileEdit = await edit(alice, file.id, 'text now')
  t.equal(fileEdit.response.status, 400)
  t.equal(fileEdit.error?.code, 'NOT_EDITABLE')
  for (const [who, id] of [[stranger, text.id], [alice, randomUUID()]] as const) {
    const result = await edit(who, id, 'x')
    t.equal(result.response.status, 404)
    t.equal(result.error?.code, 'MESSAGE_NOT_FOUND')
  }
  for (const content of ['', 'x'.repeat(10001), null]) {
    const result = await edit(alice, text.id, content)
    t.equal(result.response.status, 400, `content ${JSON.stringify(content)?.slice(0, 20)}`)
    t.equal(result.error?.code, 'VALIDATION_ERROR')
  }
  const extra = await alice.api.PATCH('/messages/{messageId}', { params: { path: { messageId: text.id } }, body: { content: 'x', senderId: bob.id } as never })
  t.equal(extra.response.status, 400)
  const badId = await fetch(`${baseUrl}/messages/not-a-uuid`, { method: 'PATCH', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' }, body: '{"content":"x"}' })
  t.equal(badId.status, 400)
  const anonymous = await fetch(`${baseUrl}/messages/${text.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"content":"x"}' })
  t.equal(anonymous.status, 401)
  // Gone for the sender (deleted for them): 404, as for anyone else.
  t.equal((await remove(alice, text.id, 'me')).response.status, 204)
  t.equal((await edit(alice, text.id, 'too late')).error?.code, 'MESSAGE_NOT_FOUND')
  t.equal((await sendText(bob, alice, 'still fine')).kind, 'text')
})

t.test('a retry of the first send is recognised after an edit; the edited text under that id conflicts', async (t) => {
  const [alice, bob] = await pair()
  const id = randomUUID()
  await sendText(alice, bob, 'first version', id)
  const edited = (await edit(alice, id, 'second version')).data!
  const retry = await alice.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } }, body: { id, content: 'first version' } })
  t.equal(retry.response.status, 200, 'a retry, not a conflict')
  t.same(retry.data, edited, 'answered with the stored message as edited')
  const asEdited = await alice.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } }, body: { id, content: 'second version' } })
  t.equal(asEdited.response.status, 409)
  t.equal(asEdited.error?.code, 'MESSAGE_ID_CONFLICT')
  t.equal((await history(bob, alice)).length, 1, 'nothing stored again')
})

t.test('delete for me: gone from my history, list and unread count, erased from my log; the peer keeps it', async (t) => {
  const [alice, bob] = await pair()
  const [aliceStream, bobStream] = await Promise.all([openStream(t, baseUrl, alice), openStream(t, baseUrl, bob)])
  const secret = `secret-${randomUUID()}`
  const first = await sendText(alice, bob, 'first')
  const second = await sendText(alice, bob, secret)
  await edit(alice, second.id, `${secret} (edited)`)
  t.equal((await conversationWith(bob, alice))!.unreadCount, 2)

  const deleted = await remove(bob, second.id) // for=me is the default
  t.equal(deleted.response.status, 204)
  t.same(JSON.parse((await bobStream.waitForEvent('message.deleted')).data), { messageId: second.id, peerId: alice.id, for: 'me' })
  t.same((await history(bob, alice)).map((m) => m.id), [first.id], 'gone from my history')
  const bobView = (await conversationWith(bob, alice))!
  t.equal(bobView.lastMessage?.id, first.id, 'lastMessage falls back to the previous message')
  t.equal(bobView.unreadCount, 1, 'no longer counted unread')
  t.same((await history(alice, bob)).map((m) => m.id), [second.id, first.id], 'the sender keeps it')
  t.equal((await conversationWith(alice, bob))!.lastMessage?.id, second.id)

  const replay = await replayAll(t, baseUrl, bob, () => sendText(alice, bob, 'marker'))
  t.notOk(replay.some((e) => e.raw.includes(secret)), 'a resume from 0 no longer carries the deleted content')
  t.ok(replay.some((e) => e.event === 'message.created' && e.data.id === first.id), 'other messages are still replayed')
  t.ok(replay.some((e) => e.event === 'message.deleted' && e.data.messageId === second.id), 'the deletion itself is replayed')
  const ids = replay.map((e) => e.id)
  t.same(ids, [...ids].sort((x, y) => x - y), 'ids still increase')
  t.ok(new Set(ids).size === ids.length)
  const aliceReplay = await replayAll(t, baseUrl, alice, () => sendText(bob, alice, 'marker'))
  t.ok(aliceReplay.some((e) => e.event === 'message.created' && e.raw.includes(secret)), 'the sender\'s log keeps it')

  // A later edit by the sender does not bring it back to the receiver.
  await edit(alice, second.id, `${secret} (edited twice)`)
  await aliceStream.waitFor(() => dataOf(aliceStream, 'message.updated').length === 2)
  await sendText(alice, bob, 'after the edit')
  await bobStream.waitFor(() => dataOf(bobStream, 'message.created').some((m) => m.content === 'after the edit'))
  t.equal(dataOf(bobStream, 'message.updated').length, 1, 'only the edit before the deletion')
  t.same(dataOf(aliceStream, 'message.deleted'), [], 'the sender is not told')

  const again = await remove(bob, second.id, 'me')
  t.equal(again.response.status, 404, 'deleting again: gone for me')
  t.equal(again.error?.code, 'MESSAGE_NOT_FOUND')
})

t.test('delete for everyone: sender only, gone for both, both told, erased from both logs', async (t) => {
  const [alice, bob] = await pair()
  const [aliceStream, bobStream] = await Promise.all([openStream(t, baseUrl, alice), openStream(t, baseUrl, bob)])
  const secret = `everyone-${randomUUID()}`
  const kept = await sendText(bob, alice, 'kept')
  const doomed = await sendText(alice, bob, secret)
  const byReceiver = await remove(bob, doomed.id, 'everyone')
  t.equal(byReceiver.response.status, 403)
  t.equal(byReceiver.error?.code, 'NOT_MESSAGE_SENDER')
  t.ok(await storedEventsContaining(secret) > 0)

  t.equal((await remove(alice, doomed.id, 'everyone')).response.status, 204)
  t.same(JSON.parse((await aliceStream.waitForEvent('message.deleted')).data), { messageId: doomed.id, peerId: bob.id, for: 'everyone' })
  t.same(JSON.parse((await bobStream.waitForEvent('message.deleted')).data), { messageId: doomed.id, peerId: alice.id, for: 'everyone' })
  t.same((await history(alice, bob)).map((m) => m.id), [kept.id])
  t.same((await history(bob, alice)).map((m) => m.id), [kept.id])
  t.equal((await conversationWith(bob, alice))!.unreadCount, 0)
  t.equal((await conversationWith(bob, alice))!.lastMessage?.id, kept.id)
  t.equal((await conversationWith(alice, bob))!.lastMessage?.id, kept.id)
  t.equal(await storedEventsContaining(secret), 0, 'no stored event carries it any more')
  for (const [user, peer] of [[alice, bob], [bob, alice]] as const) {
    const replay = await replayAll(t, baseUrl, user, () => sendText(peer, user, 'marker'))
    t.notOk(replay.some((e) => e.raw.includes(secret)), 'a resume from 0 does not carry it')
  }
  t.equal((await remove(alice, doomed.id, 'everyone')).error?.code, 'MESSAGE_NOT_FOUND', 'deleting again: 404')
  t.equal((await edit(alice, doomed.id, 'x')).error?.code, 'MESSAGE_NOT_FOUND')
})

t.test('delete errors: bad id or scope 400, unknown or foreign message 404', async (t) => {
  const [alice, bob] = await pair()
  const stranger = await registerUser(baseUrl)
  const sent = await sendText(alice, bob, 'hi')
  const badScope = await fetch(`${baseUrl}/messages/${sent.id}?for=all`, { method: 'DELETE', headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(badScope.status, 400)
  t.equal((await badScope.json() as { code: string }).code, 'VALIDATION_ERROR')
  const badId = await fetch(`${baseUrl}/messages/123`, { method: 'DELETE', headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(badId.status, 400)
  for (const scope of ['me', 'everyone'] as const) {
    t.equal((await remove(stranger, sent.id, scope)).error?.code, 'MESSAGE_NOT_FOUND', `a stranger, for ${scope}`)
    t.equal((await remove(alice, randomUUID(), scope)).error?.code, 'MESSAGE_NOT_FOUND')
  }
  // A message the caller cleared is gone for them too.
  await alice.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } } })
  t.equal((await remove(alice, sent.id, 'everyone')).error?.code, 'MESSAGE_NOT_FOUND')
  t.equal((await remove(bob, sent.id, 'me')).response.status, 204, 'the peer still has it and may delete it')
})

t.test('a deleted file\'s bytes go once nobody sees it', async (t) => {
  const [alice, bob] = await pair()
  const forEveryone = await sendFile(alice, bob)
  t.ok(existsSync(join(filesDir, forEveryone.file!.id)))
  t.equal((await remove(alice, forEveryone.id, 'everyone')).response.status, 204)
  t.notOk(existsSync(join(filesDir, forEveryone.file!.id)), 'deleted for everyone: bytes gone')
  const download = await fetch(`${baseUrl}${forEveryone.file!.url}`, { headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(download.status, 404)

  const forMe = await sendFile(alice, bob)
  await remove(bob, forMe.id, 'me')
  t.ok(existsSync(join(filesDir, forMe.file!.id)), 'deleted for one side: the other still has it')
  const stillThere = await fetch(`${baseUrl}${forMe.file!.url}`, { headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(stillThere.status, 200)
  await remove(alice, forMe.id, 'me')
  t.notOk(existsSync(join(filesDir, forMe.file!.id)), 'deleted by both: bytes gone')

  const clearedByPeer = await sendFile(alice, bob)
  await bob.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id } } })
  t.ok(existsSync(join(filesDir, clearedByPeer.file!.id)))
  await remove(alice, clearedByPeer.id, 'me')
  t.notOk(existsSync(join(filesDir, clearedByPeer.file!.id)), 'cleared by one, deleted by the other: bytes gone')
  t.same(await history(alice, bob), [])
})

t.test('clearing erases the cleared messages from the clearer\'s log; the peer\'s log keeps them until the peer clears too', async (t) => {
  const [alice, bob] = await pair()
  const secret = `cleared-${randomUUID()}`
  const kept = `kept-${randomUUID()}`
  const first = await sendText(alice, bob, secret)
  await edit(alice, first.id, `${secret} (edited)`)
  await sendText(bob, alice, `${secret} reply`)

  const cleared = await alice.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } } })
  t.equal(cleared.response.status, 204)
  const later = await sendText(bob, alice, kept)
  const aliceReplay = await replayAll(t, baseUrl, alice, () => sendText(bob, alice, 'marker'))
  t.notOk(aliceReplay.some((e) => e.raw.includes(secret)), 'a resume from 0 no longer carries the cleared content (created or updated)')
  t.ok(aliceReplay.some((e) => e.event === 'history.cleared'), 'the clearing itself is replayed')
  t.ok(aliceReplay.some((e) => e.event === 'message.created' && e.data.id === later.id), 'a message after the clear is replayed')
  const ids = aliceReplay.map((e) => e.id)
  t.same(ids, [...ids].sort((x, y) => x - y), 'ids still increase')

  const bobReplay = await replayAll(t, baseUrl, bob, () => sendText(alice, bob, 'marker'))
  t.ok(bobReplay.some((e) => e.raw.includes(secret)), 'the peer, who did not clear, still has them')

  await bob.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id } } })
  const bobAfter = await replayAll(t, baseUrl, bob, () => sendText(alice, bob, 'marker 2'))
  t.notOk(bobAfter.some((e) => e.raw.includes(secret)), 'erased from the peer\'s log once the peer clears')
  t.equal(await storedEventsContaining(secret), 0, 'no stored event of anyone carries the cleared content')
})
