// Message search: substring in any script without regard to case, `%`, `_` and `\` literal, short queries,
// paging, one conversation or all, and never a message the caller cannot see.
import { randomUUID } from 'node:crypto'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { expectedMatches, RARE_MATCHES } from '../src/features/messages/search.ts'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'
import { type Message, sendText } from './helpers/messages.ts'

const { app, baseUrl } = await startApp(t)

type Query = { q: string, peerId?: string, before?: string, limit?: number }

async function search (user: TestUser, query: Query): Promise<{ messages: Message[], hasMore: boolean }> {
  const { data, response, error } = await user.api.GET('/messages/search', { params: { query } })
  if (data === undefined) throw new Error(`search failed: ${response.status} ${JSON.stringify(error)}`)
  return data
}

async function contents (user: TestUser, query: Query): Promise<string[]> {
  return (await search(user, query)).messages.map((m) => m.content!)
}

async function pair (): Promise<[TestUser, TestUser]> {
  const [alice, bob] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl)])
  await addContact(alice, bob)
  return [alice, bob]
}

t.test('finds substrings in any script, without regard to case, newest first', async (t) => {
  const [alice, bob] = await pair()
  await sendText(alice, bob, '我是张三')
  await sendText(bob, alice, 'Hello WORLD')
  await sendText(alice, bob, 'hello again')
  await sendText(bob, alice, 'Café crème at 5')
  await sendText(alice, bob, 'こんにちは世界 🎉 party')
  t.same(await contents(alice, { q: '张三' }), ['我是张三'], 'CJK: 张三 in 我是张三')
  t.same(await contents(bob, { q: '张' }), ['我是张三'], 'a single CJK character')
  t.same(await contents(alice, { q: 'HELLO' }), ['hello again', 'Hello WORLD'], 'case-insensitive, newest first')
  t.same(await contents(alice, { q: 'world' }), ['Hello WORLD'])
  t.same(await contents(bob, { q: 'CAFÉ' }), ['Café crème at 5'], 'accented letters fold too')
  t.same(await contents(bob, { q: '世界 🎉' }), ['こんにちは世界 🎉 party'])
  t.same(await contents(bob, { q: 'o' }), ['hello again', 'Hello WORLD'], 'a one-character query is answered')
  t.same(await contents(bob, { q: 'at' }), ['Café crème at 5'], 'two characters too')
  t.same(await contents(bob, { q: 'nothing like it' }), [])
  const result = await search(alice, { q: '张三' })
  t.same(Object.keys(result.messages[0]!).sort(), ['content', 'createdAt', 'editedAt', 'file', 'id', 'kind', 'reactions', 'readAt', 'receiverId', 'senderId'])
  t.equal(result.hasMore, false)
})

t.test('%, _ and \\ are plain characters', async (t) => {
  const [alice, bob] = await pair()
  await sendText(alice, bob, '100% sure')
  await sendText(alice, bob, '1000 sure')
  await sendText(alice, bob, 'snake_case')
  await sendText(alice, bob, 'snakeXcase')
  await sendText(alice, bob, 'C:\\path')
  await sendText(alice, bob, 'C:path')
  t.same(await contents(bob, { q: '0%' }), ['100% sure'])
  t.same(await contents(bob, { q: '%' }), ['100% sure'])
  t.same(await contents(bob, { q: 'e_c' }), ['snake_case'])
  t.same(await contents(bob, { q: '_' }), ['snake_case'])
  t.same(await contents(bob, { q: ':\\p' }), ['C:\\path'])
  t.same(await contents(bob, { q: '\\' }), ['C:\\path'])
})

t.test('pages back with before; peerId narrows to one conversation', async (t) => {
  const [alice, bob] = await pair()
  const carol = await registerUser(baseUrl)
  await addContact(alice, carol)
  const sent: Message[] = []
  for (let i = 0; i < 7; i++) {
    sent.push(await sendText(alice, i % 2 === 0 ? bob : carol, `needle ${i}`))
    await sendText(alice, bob, `hay ${i}`)
  }
  const ids = sent.map((m) => m.id).reverse()
  // 'needle' reads the trigram index once; 'ee' (too short for it) walks each conversation back.
  for (const q of ['needle', 'ee']) {
    const first = await search(alice, { q, limit: 3 })
    t.same(first.messages.map((m) => m.id), ids.slice(0, 3), q)
    t.equal(first.hasMore, true)
    const second = await search(alice, { q, limit: 3, before: first.messages[2]!.id })
    t.same(second.messages.map((m) => m.id), ids.slice(3, 6), q)
    t.equal(second.hasMore, true)
    const third = await search(alice, { q, limit: 3, before: second.messages[2]!.id })
    t.same(third.messages.map((m) => m.id), ids.slice(6), q)
    t.equal(third.hasMore, false)
  }
  t.same(await contents(alice, { q: 'needle', peerId: carol.id }), ['needle 5', 'needle 3', 'needle 1'])
  t.same(await contents(carol, { q: 'needle' }), ['needle 5', 'needle 3', 'needle 1'])
  const withBob = await search(alice, { q: ' ', peerId: bob.id, limit: 2 })
  t.same(withBob.messages.map((m) => m.content), ['hay 6', 'needle 6'])
  t.equal(withBob.hasMore, true)
  t.same((await search(alice, { q: 'needle', peerId: bob.id, limit: 100 })).messages.length, 4)
  const bobFirst = await search(alice, { q: 'needle', peerId: bob.id, limit: 3 })
  t.same(bobFirst.messages.map((m) => m.content), ['needle 6', 'needle 4', 'needle 2'])
  const bobNext = await search(alice, { q: 'needle', peerId: bob.id, limit: 3, before: bobFirst.messages[2]!.id })
  t.same(bobNext.messages.map((m) => m.content), ['needle 0'], 'pages back within the conversation')
  t.equal(bobNext.hasMore, false)
  t.same(await contents(alice, { q: 'needle', peerId: bob.id, before: sent[5]!.id }), ['needle 4', 'needle 2', 'needle 0'],
    'before may be a message of another conversation: it is a point in time')
  const dave = await registerUser(baseUrl)
  t.same(await search(alice, { q: 'needle', peerId: dave.id }), { messages: [], hasMore: false }, 'no conversation yet')
})

t.test('cleared, deleted and other users\' messages are never returned', async (t) => {
  const [alice, bob] = await pair()
  const [carol, dave] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl)])
  await addContact(carol, dave)
  const tag = randomUUID().slice(0, 8)
  await sendText(carol, dave, `other people ${tag}`)
  const old = await sendText(alice, bob, `old ${tag}`)
  const edited = await alice.api.PATCH('/messages/{messageId}', { params: { path: { messageId: old.id } }, body: { content: `renamed ${tag}` } })
  t.equal(edited.response.status, 200)
  await alice.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } } })
  const mine = await sendText(bob, alice, `mine ${tag}`)
  const hidden = await sendText(bob, alice, `hidden ${tag}`)
  const gone = await sendText(alice, bob, `gone ${tag}`)
  await alice.api.DELETE('/messages/{messageId}', { params: { path: { messageId: hidden.id }, query: { for: 'me' } } })
  await alice.api.DELETE('/messages/{messageId}', { params: { path: { messageId: gone.id }, query: { for: 'everyone' } } })
  for (const q of [tag, tag.slice(0, 2)]) {
    t.same(await contents(alice, { q }), [`mine ${tag}`], `alice, ${q}: not cleared, not deleted, not others'`)
    t.same(await contents(alice, { q, peerId: bob.id }), [`mine ${tag}`], `alice, ${q}, in the conversation with bob`)
  }
  t.same(await contents(bob, { q: tag, peerId: alice.id }), [`hidden ${tag}`, `mine ${tag}`, `renamed ${tag}`])
  t.same(await contents(bob, { q: tag }), [`hidden ${tag}`, `mine ${tag}`, `renamed ${tag}`], 'bob keeps what only alice removed, as edited')
  t.same(await contents(dave, { q: tag }), [`other people ${tag}`])
  t.same(await contents(bob, { q: `old ${tag}` }), [], 'the text before the edit is not found')
  t.same(await contents(alice, { q: `renamed ${tag}` }), [], 'not for alice, who cleared it')
  await bob.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id } } })
  t.same(await contents(bob, { q: tag, peerId: alice.id }), [], 'nothing once bob cleared it too')
  const foreignBefore = await alice.api.GET('/messages/search', { params: { query: { q: tag, before: (await sendText(carol, dave, 'x')).id } } })
  t.equal(foreignBefore.error?.code, 'MESSAGE_NOT_FOUND', 'before must be one of your messages')
  t.equal(mine.kind, 'text')
})

t.test('search errors', async (t) => {
  const [alice] = await pair()
  const cases: Array<[string, number, string]> = [
    ['', 400, 'VALIDATION_ERROR'],
    ['q=', 400, 'VALIDATION_ERROR'],
    [`q=${'x'.repeat(101)}`, 400, 'VALIDATION_ERROR'],
    ['q=a&limit=0', 400, 'VALIDATION_ERROR'],
    ['q=a&limit=101', 400, 'VALIDATION_ERROR'],
    ['q=a&peerId=nope', 400, 'VALIDATION_ERROR'],
    ['q=a&before=nope', 400, 'VALIDATION_ERROR'],
    ['q=a&extra=1', 400, 'VALIDATION_ERROR'],
    [`q=a&peerId=${alice.id}`, 400, 'CANNOT_MESSAGE_SELF'],
    [`q=a&peerId=${randomUUID()}`, 404, 'USER_NOT_FOUND'],
    [`q=a&before=${randomUUID()}`, 404, 'MESSAGE_NOT_FOUND']
  ]
  for (const [query, status, code] of cases) {
    const response = await fetch(`${baseUrl}/messages/search?${query}`, { headers: { authorization: `Bearer ${alice.token}` } })
    t.equal(response.status, status, query)
    t.equal((await response.json() as { code: string }).code, code, query)
  }
  t.equal((await fetch(`${baseUrl}/messages/search?q=a`)).status, 401)
  t.same(await search(alice, { q: `${'x'.repeat(100)}` }), { messages: [], hasMore: false }, '100 characters are fine')
})

t.test('a word common in the whole table: each conversation is walked back, with the same answers', async (t) => {
  const [alice, bob] = await pair()
  const carol = await registerUser(baseUrl)
  await addContact(alice, carol)
  const [x, y] = await pair()
  const word = `w${randomUUID().slice(0, 6)}`
  // Other people's messages with the word, more than RARE_MATCHES, straight into the table, and the statistics taken.
  await app.db.execute(sql`insert into messages (id, sender_id, receiver_id, pair_lo, pair_hi, kind, content)
    select gen_random_uuid(), ${x.id}::uuid, ${y.id}::uuid, least(${x.id}::uuid, ${y.id}::uuid), greatest(${x.id}::uuid, ${y.id}::uuid), 'text', ${word} || ' ' || g
    from generate_series(1, ${RARE_MATCHES + 2000}::int) as g`)
  await app.db.execute(sql`insert into conversations (owner_id, peer_id, last_seq)
    select ${x.id}::uuid, ${y.id}::uuid, max(seq) from messages where sender_id = ${x.id}::uuid`)
  await app.db.execute(sql`analyze messages`)
  const expected = await expectedMatches(app.db, word)
  t.ok(expected > RARE_MATCHES, `PostgreSQL expects ${expected} matches: the common path`)

  const old = await sendText(alice, bob, `${word} first`)
  await sendText(bob, alice, 'nothing here')
  const mid = await sendText(carol, alice, `from carol: ${word}`)
  const hidden = await sendText(bob, alice, `hidden ${word}`)
  await alice.api.DELETE('/messages/{messageId}', { params: { path: { messageId: hidden.id }, query: { for: 'me' } } })
  const newest = await sendText(alice, bob, `${word} last`)
  t.same((await search(alice, { q: word })).messages.map((m) => m.id), [newest.id, mid.id, old.id], 'the caller\'s own, newest first, not the hidden one')
  const page = await search(alice, { q: word, limit: 2 })
  t.same(page.messages.map((m) => m.id), [newest.id, mid.id])
  t.equal(page.hasMore, true)
  t.same((await search(alice, { q: word, before: mid.id })).messages.map((m) => m.id), [old.id], 'and pages back')
  t.same((await search(x, { q: `${word} 12`, limit: 50 })).messages.length, 50, 'the other people find theirs')
})
