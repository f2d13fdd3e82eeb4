// The statement that stores a transaction's events (appendEvents, the append_events function of the migrations):
// per-user ids in order, counters moved with them, all or nothing, and no deadlock or hole under concurrency.
import { randomUUID } from 'node:crypto'
import { asc, eq } from 'drizzle-orm'
import t from 'tap'
import { type Db, transaction } from '../src/db/client.ts'
import { events, users } from '../src/db/schema.ts'
import { appendEvents, type EventDraft, type StoredEvent } from '../src/features/events/repository.ts'
import { openTestDatabase } from './helpers/app.ts'

const { db } = await openTestDatabase(t)

async function newUser (): Promise<string> {
  const id = randomUUID()
  await db.insert(users).values({ id, username: `u${id.slice(0, 8)}`, email: `${id}@example.com`, passwordHash: 'x' })
  return id
}

async function append (drafts: EventDraft[]): Promise<StoredEvent[]> {
  const add = appendEvents(drafts)
  const { lastRows } = await transaction(db, async () => ({ value: undefined, last: [add.statement] }))
  return add.stored(lastRows[0]!)
}

async function stored (userId: string): Promise<Array<{ id: number, type: string, data: string, messageId: string | null }>> {
  return await db.select({ id: events.id, type: events.type, data: events.data, messageId: events.messageId })
    .from(events).where(eq(events.userId, userId)).orderBy(asc(events.id))
}

async function counter (database: Db, userId: string): Promise<number> {
  const [row] = await database.select({ lastEventId: users.lastEventId }).from(users).where(eq(users.id, userId))
  return row!.lastEventId
}

t.test('each event takes the next id of its user, in the order given, and the counters follow', async (t) => {
  const [alice, bob] = [await newUser(), await newUser()]
  const messageId = randomUUID()
  const first = await append([
    { userId: alice, type: 'a', data: '{"n":1}' },
    { userId: bob, type: 'b', data: '{"n":2}', messageId },
    { userId: alice, type: 'c', data: '{"n":3}' }
  ])
  t.same(first.map((e) => [e.userId, e.id]), [[alice, 1], [bob, 1], [alice, 2]], 'ids answered in the drafts\' order')
  const second = await append([{ userId: alice, type: 'd', data: '{}' }])
  t.same(second.map((e) => e.id), [3], 'the next append continues where the counter stands')
  t.same(await stored(alice), [
    { id: 1, type: 'a', data: '{"n":1}', messageId: null },
    { id: 2, type: 'c', data: '{"n":3}', messageId: null },
    { id: 3, type: 'd', data: '{}', messageId: null }
  ])
  t.same(await stored(bob), [{ id: 1, type: 'b', data: '{"n":2}', messageId }])
  t.equal(await counter(db, alice), 3)
  t.equal(await counter(db, bob), 1)
})

t.test('each event\'s data is stored as the exact text given', async (t) => {
  const alice = await newUser()
  const texts = [
    JSON.stringify({ content: 'quotes " and \\ backslashes, a tab\t and a newline\n' }),
    JSON.stringify({ content: '张三 👍 é', nested: { list: [1, 'two', null, { three: true }] } }),
    '{"escaped":"\\u00e9\\u4e09","spaced" : [ 1 , 2 ]}',
    '"a string"',
    '[]'
  ]
  const appended = await append(texts.map((data) => ({ userId: alice, type: 't', data })))
  t.same(appended.map((e) => e.data), texts)
  t.same((await stored(alice)).map((row) => row.data), texts, 'stored byte for byte, escapes and spacing kept')
})

t.test('an unknown user fails the whole append, and nothing of it stays', async (t) => {
  const alice = await newUser()
  const failure = await append([{ userId: alice, type: 'a', data: '{}' }, { userId: randomUUID(), type: 'b', data: '{}' }])
    .then(() => undefined, (err: Error) => err)
  // (drizzle, on PGlite, wraps the database's error as its cause)
  t.match((failure?.cause as Error | undefined)?.message ?? failure?.message, /append_events: unknown user/)
  t.same(await stored(alice), [])
  t.equal(await counter(db, alice), 0)
})

t.test('concurrent appends over overlapping users: no deadlock, and each user\'s ids are 1..n without a hole', async (t) => {
  const people = [await newUser(), await newUser(), await newUser(), await newUser()]
  // Each transaction writes to three of the four users, in a different order each time.
  const rounds = 60
  await Promise.all(Array.from({ length: rounds }, (_, i) => {
    const three = [people[i % 4]!, people[(i + 1) % 4]!, people[(i + 3) % 4]!]
    if (i % 2 === 1) three.reverse()
    return append(three.map((userId) => ({ userId, type: 't', data: `{"i":${i}}` })))
  }))
  for (const userId of people) {
    const ids = (await stored(userId)).map((e) => e.id)
    t.same(ids, Array.from({ length: ids.length }, (_, k) => k + 1), 'ids without a hole')
    t.equal(await counter(db, userId), ids.length, 'the counter is the newest id')
  }
  t.equal((await Promise.all(people.map(stored))).flat().length, rounds * 3, 'every event stored')
})
