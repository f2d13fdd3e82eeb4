// Hubs alone, with an in-memory store: each stream of a user is pushed every id once and in order, whether
// the hub learns of events by offer (committed here), by poke (committed elsewhere) or not at all (a gap).
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { Hubs } from '../../src/features/events/hub.ts'
import type { StoredEvent } from '../../src/features/events/repository.ts'
import { EventStream } from '../../src/features/events/stream.ts'
import { FakeEventStore, FakeResponse, flush, recordingLogger } from '../helpers/fakes.ts'
import { range } from '../helpers/wait.ts'

const ALICE = 'alice'
const BOB = 'bob'

/** What the hub uses of a stream: its user, and push. */
function fakeStream (userId: string) {
  const pushes: StoredEvent[][] = []
  const stream = { userId, push: (events: StoredEvent[]) => { pushes.push(events) } }
  return { stream: stream as unknown as EventStream, pushes, ids: () => pushes.flat().map((event) => event.id) }
}

function setup () {
  const store = new FakeEventStore()
  const { log, entries } = recordingLogger()
  return { store, hubs: new Hubs(store, log), entries }
}

t.test('events offered as they commit are forwarded as they are, without reading', async (t) => {
  const { store, hubs } = setup()
  store.commit(ALICE, 2)
  const s = fakeStream(ALICE)
  void hubs.attach(s.stream)
  await flush()
  const batch = store.commit(ALICE, 3)
  hubs.offer(batch)
  t.same(s.pushes, [batch], 'the batch, in one push')
  hubs.offer(store.commit(ALICE, 1))
  t.same(s.ids(), [3, 4, 5, 6], 'nothing from before the stream was attached: the stream reads that itself')
  t.same(store.reads, [], 'no database read')
})

t.test('ids already forwarded are not forwarded again', async (t) => {
  const { store, hubs } = setup()
  const s = fakeStream(ALICE)
  void hubs.attach(s.stream)
  await flush()
  const first = store.commit(ALICE, 2)
  hubs.offer(first)
  const second = store.commit(ALICE, 2)
  hubs.offer([...first, ...second])
  hubs.offer(first)
  t.same(s.ids(), [1, 2, 3, 4])
  t.same(store.reads, [])
})

t.test('events offered before the hub knows where the ids stand are read after', async (t) => {
  const { store, hubs } = setup()
  store.commit(ALICE, 2)
  store.gated = true
  const s = fakeStream(ALICE)
  void hubs.attach(s.stream)
  t.equal(store.waiting, 1, 'asking for the newest id (2)')
  hubs.offer(store.commit(ALICE, 2))
  t.same(s.ids(), [], 'held back: the hub does not know yet whether 3 follows what it has')
  store.gated = false
  await store.release()
  t.same(s.ids(), [3, 4], 'read from the database once the newest id is known')
  t.same(store.reads.map((read) => read.afterId), [2])
})

t.test('a gap in offers is filled from the database: every id once, in order', async (t) => {
  const { store, hubs } = setup()
  const s = fakeStream(ALICE)
  void hubs.attach(s.stream)
  await flush()
  store.commit(ALICE, 3) // committed elsewhere, never offered here
  hubs.offer(store.commit(ALICE, 2))
  await flush()
  t.same(s.ids(), [1, 2, 3, 4, 5])
  t.same(store.reads.map((read) => read.afterId), [0])
})

t.test('offers and pokes during a read are not lost, and nothing is forwarded twice', async (t) => {
  const { store, hubs } = setup()
  const s = fakeStream(ALICE)
  void hubs.attach(s.stream)
  await flush()
  store.gated = true
  store.commit(ALICE, 1)
  hubs.poke(ALICE, 1)
  t.equal(store.waiting, 1, 'reading after 0')
  hubs.offer(store.commit(ALICE, 2))
  hubs.poke(ALICE, 3)
  t.same(s.ids(), [], 'nothing forwarded during the read')
  await store.release()
  t.same(s.ids(), [1], 'the read answered what was committed when it started')
  t.equal(store.waiting, 1, 'and, having been offered more meanwhile, the hub reads again')
  store.gated = false
  await store.release()
  hubs.offer(store.events.slice(1))
  hubs.offer(store.commit(ALICE, 1))
  t.same(s.ids(), [1, 2, 3, 4])
})

t.test('a poke reads only when the other instance is ahead', async (t) => {
  const { store, hubs } = setup()
  const s = fakeStream(ALICE)
  void hubs.attach(s.stream)
  await flush()
  hubs.offer(store.commit(ALICE, 2))
  hubs.poke(ALICE, 2)
  hubs.poke(ALICE, 1)
  await flush()
  t.same(store.reads, [], 'not ahead: no read')
  store.commit(ALICE, 1)
  hubs.poke(ALICE, 3)
  await flush()
  t.same(s.ids(), [1, 2, 3])
  store.commit(ALICE, 1)
  hubs.poke(ALICE) // the notice did not say how far (too big to carry the ids)
  await flush()
  t.same(s.ids(), [1, 2, 3, 4])
  hubs.poke(BOB, 10)
  await flush()
  t.same(store.reads.map((read) => read.userId), [ALICE, ALICE], 'no hub for a user without streams here')
})

t.test('pokeAll makes every hub check the database', async (t) => {
  const { store, hubs } = setup()
  const a = fakeStream(ALICE)
  const b = fakeStream(BOB)
  void hubs.attach(a.stream)
  void hubs.attach(b.stream)
  await flush()
  store.commit(ALICE, 1)
  store.commit(BOB, 2)
  hubs.pokeAll()
  await flush()
  t.same(a.ids(), [1])
  t.same(b.ids(), [1, 2])
})

t.test('each user\'s events go to that user\'s streams only, each stream gets them all', async (t) => {
  const { store, hubs } = setup()
  const a1 = fakeStream(ALICE)
  const a2 = fakeStream(ALICE)
  const b = fakeStream(BOB)
  for (const s of [a1, a2, b]) void hubs.attach(s.stream)
  await flush()
  hubs.offer([...store.commit(ALICE, 2), ...store.commit(BOB, 1), ...store.commit('carol', 1)])
  t.same(a1.ids(), [1, 2])
  t.same(a2.ids(), [1, 2])
  t.same(b.ids(), [1])
  t.same(b.pushes[0]!.map((event) => event.userId), [BOB])
  t.same(hubs.userIds().sort(), [ALICE, BOB])
  t.same([...hubs.streamsOf(ALICE)], [a1.stream, a2.stream])
  t.same([...hubs.allStreams()].length, 3)
  t.same(store.reads, [])
})

t.test('detach answers true for the user\'s last stream; the hub is gone with it', async (t) => {
  const { store, hubs } = setup()
  const a1 = fakeStream(ALICE)
  const a2 = fakeStream(ALICE)
  void hubs.attach(a1.stream)
  void hubs.attach(a2.stream)
  await flush()
  t.equal(hubs.detach(a1.stream), false, 'another stream remains')
  hubs.offer(store.commit(ALICE, 1))
  t.same(a1.ids(), [], 'a detached stream gets nothing')
  t.same(a2.ids(), [1])
  t.equal(hubs.detach(a2.stream), true, 'the last one')
  t.equal(hubs.detach(a2.stream), false, 'not attached any more')
  t.same(hubs.userIds(), [])
  hubs.offer(store.commit(ALICE, 1))
  t.same(a2.ids(), [1])
  const again = fakeStream(ALICE)
  void hubs.attach(again.stream)
  await flush()
  hubs.offer(store.commit(ALICE, 1))
  t.same(again.ids(), [3], 'a new hub starts from the newest id')
})

t.test('a gap longer than a page is read page after page', async (t) => {
  const { store, hubs } = setup()
  const s = fakeStream(ALICE)
  void hubs.attach(s.stream)
  await flush()
  store.commit(ALICE, 1100)
  hubs.offer(store.commit(ALICE, 1))
  for (let i = 0; i < 5; i++) await flush()
  t.same(s.ids(), range(1, 1101))
  t.same(store.reads.map((read) => read.afterId), [0, 500, 1000])
})

t.test('a failed read is logged and retried, so the streams do not wait for the next event', async (t) => {
  const { store, hubs, entries } = setup()
  const s = fakeStream(ALICE)
  store.failures = 1
  void hubs.attach(s.stream)
  await flush()
  t.match(entries, [{ level: 'error', args: [{ userId: ALICE }, /newest event id/] }])
  await sleep(1200) // the hub retries after a second
  store.commit(ALICE, 2)
  store.failures = 1
  hubs.poke(ALICE, 2)
  await flush()
  t.match(entries.at(-1), { level: 'error', args: [{ userId: ALICE }, /catch-up failed/] })
  t.same(s.ids(), [], 'the read failed')
  await sleep(1200)
  t.same(s.ids(), [1, 2], 'the retry delivered them')
})

/** A small seeded generator (mulberry32), so a failing interleaving can be replayed. */
function random (seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('hub and stream together, under random commits here and elsewhere, pokes and backpressure: every id once, in order', async (t) => {
  for (let seed = 1; seed <= 30; seed++) {
    const next = random(seed)
    const int = (max: number) => Math.floor(next() * (max + 1))
    const { store, hubs, entries } = setup()
    store.commit(ALICE, int(5))
    const res = new FakeResponse()
    const stream = new EventStream({ userId: ALICE, sessionId: 's', res: res.asResponse(), log: recordingLogger().log, read: store.reader(ALICE), stallTimeoutMs: 60_000 })
    // As the service does: attach first, then read where the ids stand and start from the client's position.
    void hubs.attach(stream)
    const resumeAfter = int(store.latest(ALICE))
    stream.start('retry: 1000\n\n', resumeAfter)
    for (let step = 0; step < 150; step++) {
      const r = next()
      if (r < 0.4) hubs.offer(store.commit(ALICE, 1 + int(2)))
      else if (r < 0.5) store.commit(ALICE, 1 + int(1)) // committed on another instance, not (yet) announced
      else if (r < 0.55) hubs.poke(ALICE, store.latest(ALICE))
      else if (r < 0.65) res.accepting = false
      else if (r < 0.8) { if (!res.accepting) res.drain() } else await flush()
    }
    res.drain()
    hubs.poke(ALICE, store.latest(ALICE))
    for (let i = 0; i < 10; i++) await flush()
    t.same(res.ids(), range(resumeAfter + 1, store.latest(ALICE)), `seed ${seed}: ids ${resumeAfter + 1}..${store.latest(ALICE)}`)
    t.same(entries, [], `seed ${seed}: nothing logged`)
    stream.close()
  }
})
