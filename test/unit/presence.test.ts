// Presence on a real database without a server: per-user stream counting, one announcement per flip across
// instances, a dead instance's users going offline by the sweep, an instance swept while alive re-asserting.
import { randomBytes, randomUUID } from 'node:crypto'
import { eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import type { Db } from '../../src/db/client.ts'
import { instances, presence, users } from '../../src/db/schema.ts'
import { Presence } from '../../src/features/events/presence.ts'
import { openTestDatabase } from '../helpers/app.ts'
import { recordingLogger } from '../helpers/fakes.ts'
import { until } from '../helpers/wait.ts'

const { db } = await openTestDatabase(t)

interface Announcement {
  u: string
  o: boolean
  by: string
}

/** Everything announced, by any instance of a test. */
type Announcements = Announcement[]

/** What Presence uses of the bus: the instance id, and publish (recorded). */
function fakeBus (announced: Announcements) {
  const instanceId = randomUUID()
  return {
    instanceId,
    publish: async (message: { t: string, u: string, o: boolean }) => { announced.push({ u: message.u, o: message.o, by: instanceId }) }
  } as unknown as ConstructorParameters<typeof Presence>[1]
}

/** A started instance's presence, stopped when the test ends. */
async function instance (t: Test, announced: Announcements, renewMs: number) {
  const { log, entries } = recordingLogger()
  const bus = fakeBus(announced)
  const p = new Presence(db, bus, log, renewMs)
  await p.start()
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await p.stop()
  }
  t.teardown(stop)
  return { presence: p, id: bus.instanceId, entries, stop }
}

async function user (database: Db): Promise<string> {
  const name = `p_${randomBytes(6).toString('hex')}`
  const [row] = await database.insert(users).values({ username: name, email: `${name}@example.com`, passwordHash: 'not a hash' }).returning({ id: users.id })
  return row!.id
}

const SLOW = 600_000 // no renewal during the test

t.test('one instance: the first stream announces online, the last close offline, the ones between nothing', async (t) => {
  const announced: Announcements = []
  const a = await instance(t, announced, SLOW)
  const alice = await user(db)
  const bob = await user(db)
  await a.presence.streamOpened(alice)
  await a.presence.streamOpened(alice)
  t.same(announced, [{ u: alice, o: true, by: a.id }])
  t.same([...await a.presence.onlineAmong([alice, bob])], [alice])
  await a.presence.streamClosed(alice)
  t.same(announced.length, 1, 'one stream left: still online, nothing said')
  t.same([...await a.presence.onlineAmong([alice])], [alice])
  await a.presence.streamClosed(alice)
  t.same(announced, [{ u: alice, o: true, by: a.id }, { u: alice, o: false, by: a.id }])
  t.same([...await a.presence.onlineAmong([alice, bob])], [])
  t.same([...await a.presence.onlineAmong([])], [])
})

t.test('a quick open then close ends offline: the changes apply in order', async (t) => {
  const announced: Announcements = []
  const a = await instance(t, announced, SLOW)
  const alice = await user(db)
  await Promise.all([a.presence.streamOpened(alice), a.presence.streamClosed(alice)])
  t.same([...await a.presence.onlineAmong([alice])], [])
  t.same(await db.select().from(presence).where(eq(presence.userId, alice)), [], 'no row left behind')
  t.equal(announced.filter((x) => x.o).length, 0, 'never announced online')
  await Promise.all([a.presence.streamOpened(alice), a.presence.streamClosed(alice), a.presence.streamOpened(alice)])
  t.same([...await a.presence.onlineAmong([alice])], [alice], 'open, close, open: online')
  t.same(announced.at(-1), { u: alice, o: true, by: a.id })
})

t.test('two instances: online while either holds a stream, and each flip announced once', async (t) => {
  const announced: Announcements = []
  const a = await instance(t, announced, SLOW)
  const b = await instance(t, announced, SLOW)
  const alice = await user(db)
  await a.presence.streamOpened(alice)
  await b.presence.streamOpened(alice)
  t.same(announced, [{ u: alice, o: true, by: a.id }], 'the second instance sees the first and says nothing')
  await a.presence.streamClosed(alice)
  t.same(announced.length, 1, 'still online through the other instance')
  t.same([...await a.presence.onlineAmong([alice])], [alice], 'as seen from the instance that has no stream')
  await b.presence.streamClosed(alice)
  t.same(announced, [{ u: alice, o: true, by: a.id }, { u: alice, o: false, by: b.id }])
  t.same([...await a.presence.onlineAmong([alice])], [])
})

t.test('concurrent opens on two instances announce online exactly once', async (t) => {
  const announced: Announcements = []
  const a = await instance(t, announced, SLOW)
  const b = await instance(t, announced, SLOW)
  const people = await Promise.all(Array.from({ length: 5 }, () => user(db)))
  await Promise.all(people.flatMap((id) => [a.presence.streamOpened(id), b.presence.streamOpened(id)]))
  for (const id of people) t.equal(announced.filter((x) => x.u === id && x.o).length, 1)
  await Promise.all(people.flatMap((id) => [a.presence.streamClosed(id), b.presence.streamClosed(id)]))
  for (const id of people) t.equal(announced.filter((x) => x.u === id && !x.o).length, 1)
})

t.test('a dead instance\'s users are swept and announced offline by a live instance, unless online there', async (t) => {
  const announced: Announcements = []
  const RENEW = 250 // generous: a loaded machine must not make the live instance look silent too
  const live = await instance(t, announced, RENEW)
  // The dead one renews never: as far as the others can tell, it died right after its streams opened.
  const deadBus = fakeBus(announced)
  const deadId = deadBus.instanceId
  const dead = new Presence(db, deadBus, recordingLogger().log, SLOW)
  await dead.start()
  const alice = await user(db)
  const bob = await user(db)
  await dead.streamOpened(alice)
  await dead.streamOpened(bob)
  await live.presence.streamOpened(bob)
  t.same([...await dead.onlineAmong([alice, bob])].sort(), [alice, bob].sort(), 'both online (as the dead one last saw it)')
  await until(async () => announced.some((x) => x.u === alice && !x.o), 'alice announced offline', 10_000)
  t.same([...await live.presence.onlineAmong([alice, bob])], [bob], 'bob still has a stream on the live instance')
  t.same(announced.filter((x) => !x.o), [{ u: alice, o: false, by: live.id }], 'only alice announced offline, by the live instance')
  t.same(await db.select().from(presence).where(eq(presence.instanceId, deadId)), [], 'the dead instance\'s rows are gone')
  t.same(await db.select().from(instances).where(eq(instances.id, deadId)), [])
  t.equal((await db.select().from(instances).where(eq(instances.id, live.id))).length, 1, 'the live instance is kept')
})

t.test('an instance swept while alive (a long pause) re-asserts its users\' presence', async (t) => {
  const announced: Announcements = []
  const a = await instance(t, announced, 100)
  const alice = await user(db)
  await a.presence.streamOpened(alice)
  await db.delete(instances).where(eq(instances.id, a.id)) // what another instance's sweep does (presence rows cascade)
  t.same([...await a.presence.onlineAmong([alice])], [])
  await until(async () => (await a.presence.onlineAmong([alice])).has(alice), 'alice online again', 10_000)
  t.same(announced, [{ u: alice, o: true, by: a.id }, { u: alice, o: true, by: a.id }], 'announced online again')
  t.match(a.entries, [{ level: 'warn', args: [/swept while it was alive/] }])
})

t.test('stop removes the instance and announces its users offline', async (t) => {
  const announced: Announcements = []
  const a = await instance(t, announced, SLOW)
  const b = await instance(t, announced, SLOW)
  const alice = await user(db)
  const bob = await user(db)
  await a.presence.streamOpened(alice)
  await a.presence.streamOpened(bob)
  await b.presence.streamOpened(bob)
  await a.stop()
  t.same(await db.select().from(instances).where(eq(instances.id, a.id)), [])
  t.same(announced.filter((x) => !x.o), [{ u: alice, o: false, by: a.id }], 'bob is still online through the other instance')
  t.same([...await b.presence.onlineAmong([alice, bob])], [bob])
})
