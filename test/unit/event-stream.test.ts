// EventStream alone, on a fake socket: catch-up then live with no gap or repeat, backpressure (stall until
// 'drain', then re-read), the stall timeout, closing mid catch-up, heartbeats and revocation.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { EventStream } from '../../src/features/events/stream.ts'
import { FakeEventStore, FakeResponse, flush, recordingLogger } from '../helpers/fakes.ts'
import { range } from '../helpers/wait.ts'

const USER = 'user-1'
const PREAMBLE = 'retry: 1000\n\n'

function setup (options: { stallTimeoutMs?: number } = {}) {
  const store = new FakeEventStore()
  const res = new FakeResponse()
  const { log, entries } = recordingLogger()
  const stream = new EventStream({ userId: USER, sessionId: 'session-1', res: res.asResponse(), log, read: store.reader(USER), stallTimeoutMs: options.stallTimeoutMs ?? 60_000 })
  let closings = 0
  stream.onClosed = () => { closings++ }
  return { store, res, stream, entries, closings: () => closings }
}

t.test('start: the preamble, everything after the resume point, then live pushes without reading', async (t) => {
  const { store, res, stream } = setup()
  store.commit(USER, 5)
  stream.start(PREAMBLE, 2)
  await flush()
  t.ok(res.text.startsWith(PREAMBLE), 'preamble first')
  t.same(res.ids(), [3, 4, 5], 'caught up from the resume point')
  const reads = store.reads.length
  stream.push(store.commit(USER, 2))
  t.same(res.ids(), [3, 4, 5, 6, 7], 'live events written at once')
  t.equal(store.reads.length, reads, 'a contiguous push needs no read')
  stream.push(store.events.slice(4, 7))
  t.same(res.ids(), [3, 4, 5, 6, 7], 'events already written are not repeated')
})

t.test('pushes before start are dropped: start reads them itself', async (t) => {
  const { store, res, stream } = setup()
  stream.push(store.commit(USER, 2))
  t.equal(res.text, '', 'nothing written before start')
  stream.start(PREAMBLE, 0)
  await flush()
  t.same(res.ids(), [1, 2])
})

t.test('catch-up to live hand-over: events committed during the read are neither lost nor repeated', async (t) => {
  const { store, res, stream } = setup()
  store.commit(USER, 3)
  store.gated = true
  stream.start(PREAMBLE, 0)
  t.equal(store.waiting, 1, 'reading 1..3')
  stream.push(store.commit(USER, 2))
  t.same(res.ids(), [], 'a push during catch-up is not written ahead of older events')
  await store.release()
  t.same(res.ids(), [1, 2, 3], 'the first read written')
  t.equal(store.waiting, 1, 'and, having been pushed to meanwhile, the stream reads again')
  stream.push(store.commit(USER, 1))
  await store.release()
  await store.release()
  t.same(res.ids(), [1, 2, 3, 4, 5, 6])
  store.gated = false
  stream.push(store.events.slice(3))
  stream.push(store.commit(USER, 1))
  t.same(res.ids(), range(1, 7), 'live again: every id once, in order')
})

t.test('a gap in live pushes is filled from the database', async (t) => {
  const { store, res, stream } = setup()
  stream.start(PREAMBLE, 0)
  await flush()
  store.commit(USER, 3)
  stream.push(store.events.slice(2)) // only 3: 1 and 2 were committed elsewhere and never pushed
  await flush()
  t.same(res.ids(), [1, 2, 3])
  t.same(store.reads.map((read) => read.afterId), [0, 0])
})

t.test('a catch-up longer than a page reads page after page', async (t) => {
  const { store, res, stream } = setup()
  store.commit(USER, 1201)
  stream.start(PREAMBLE, 0)
  for (let i = 0; i < 5; i++) await flush()
  t.same(res.ids(), range(1, 1201))
  t.same(store.reads.map((read) => read.afterId), [0, 500, 1000])
})

t.test('events pruned past the resume point: a reset, then what is left', async (t) => {
  const { store, res, stream } = setup()
  store.commit(USER, 12)
  store.prune(USER, 9)
  stream.start(PREAMBLE, 3)
  await flush()
  const items = res.items()
  t.same(items[1], { type: 'frame', frame: { id: undefined, event: 'reset', data: '{"reason":"expired"}' } })
  t.same(res.ids(), [10, 11, 12])
})

t.test('backpressure: a refused write stops all writing until drain, then the stream re-reads what it missed', async (t) => {
  const { store, res, stream } = setup()
  store.commit(USER, 3)
  stream.start(PREAMBLE, 0)
  await flush()
  res.accepting = false
  stream.push(store.commit(USER, 1))
  t.same(res.ids(), [1, 2, 3, 4], 'the write that was refused still went into the buffer')
  stream.push(store.commit(USER, 1))
  stream.push(store.commit(USER, 2))
  stream.heartbeat()
  stream.sendTransient('presence', '{}')
  await flush()
  t.equal(res.writesWhileBlocked, 0, 'nothing written while the socket refuses')
  const reads = store.reads.length
  res.drain()
  await flush()
  t.same(res.ids(), range(1, 7), 'resumed from the database after drain: every id once, in order')
  t.same(store.reads.slice(reads).map((read) => read.afterId), [4], 're-read after the last id written')
  t.notOk(stream.closed)
})

t.test('a catch-up waits for drain between events, and resumes where it stopped', async (t) => {
  const { store, res, stream } = setup()
  store.commit(USER, 10)
  res.acceptWrites = 2 // the preamble and event 1 go through; the write of event 2 is refused (but buffered)
  stream.start(PREAMBLE, 0)
  await flush()
  t.same(res.ids(), [1, 2], 'stopped at the refused write')
  stream.push(store.commit(USER, 1))
  await flush()
  t.equal(res.writesWhileBlocked, 0, 'nothing written while waiting')
  res.drain()
  res.acceptWrites = 2 // two more writes go through, the third is refused
  await flush()
  t.same(res.ids(), [1, 2, 3, 4, 5], 'three more, then waiting again')
  res.drain()
  await flush()
  t.same(res.ids(), range(1, 11), 'the rest, and the event pushed meanwhile, once each')
  t.equal(res.writesWhileBlocked, 0)
})

t.test('a socket that stays blocked past the stall timeout is destroyed', async (t) => {
  const { store, res, stream, entries, closings } = setup({ stallTimeoutMs: 30 })
  stream.start(PREAMBLE, 0)
  await flush()
  res.accepting = false
  stream.push(store.commit(USER, 1))
  t.notOk(stream.closed, 'not at once')
  await sleep(120)
  t.ok(res.destroyed, 'socket destroyed')
  t.notOk(res.ended, 'not ended: a client that is not reading would never receive the end')
  t.ok(stream.closed)
  t.equal(closings(), 1, 'onClosed once')
  t.match(entries, [{ level: 'info', args: [{ userId: USER }, /stopped reading/] }])
  await flush()
  t.equal(closings(), 1, 'the socket\'s close event does not call onClosed again')
})

t.test('a drain before the stall timeout keeps the stream open', async (t) => {
  const { store, res, stream } = setup({ stallTimeoutMs: 60 })
  stream.start(PREAMBLE, 0)
  await flush()
  res.accepting = false
  stream.push(store.commit(USER, 1))
  await sleep(10)
  res.drain()
  await sleep(150)
  t.notOk(res.destroyed)
  t.notOk(stream.closed)
  stream.push(store.commit(USER, 1))
  t.same(res.ids(), [1, 2])
})

for (const pruned of [false, true]) {
  t.test(`closing during catch-up writes nothing more${pruned ? ' (not even the reset of a pruned resume point)' : ''}`, async (t) => {
    const { store, res, stream, entries, closings } = setup()
    store.commit(USER, 6)
    if (pruned) store.prune(USER, 4)
    store.gated = true
    stream.start(PREAMBLE, 2)
    stream.close()
    t.ok(res.ended, 'ended')
    t.equal(closings(), 1)
    await store.release()
    t.equal(res.text, PREAMBLE, 'the read answered after close is not written')
    t.same(entries, [], 'and nothing went wrong')
    stream.push(store.commit(USER, 1))
    stream.heartbeat()
    t.equal(res.text, PREAMBLE, 'pushes and heartbeats after close are dropped')
  })
}

t.test('the client leaving while the catch-up waits for drain ends the catch-up', async (t) => {
  const { store, res, stream, entries, closings } = setup()
  store.commit(USER, 5)
  res.acceptWrites = 1
  stream.start(PREAMBLE, 0)
  await flush()
  t.same(res.ids(), [1])
  res.hangUp()
  await flush()
  t.ok(stream.closed)
  t.equal(closings(), 1)
  t.same(res.ids(), [1], 'nothing written after the client left')
  t.equal(store.reads.length, 1, 'no further read')
  t.same(entries, [])
})

t.test('a response already closed when the stream is made: start writes nothing', async (t) => {
  const store = new FakeEventStore()
  const res = new FakeResponse()
  res.destroyed = true
  const stream = new EventStream({ userId: USER, sessionId: 's', res: res.asResponse(), log: recordingLogger().log, read: store.reader(USER), stallTimeoutMs: 1000 })
  t.ok(stream.closed)
  stream.start(PREAMBLE, 0)
  await flush()
  t.equal(res.text, '')
  t.same(store.reads, [])
})

t.test('heartbeats: a comment when the socket takes writes, nothing while it refuses', async (t) => {
  const { store, res, stream } = setup()
  stream.heartbeat()
  t.equal(res.text, '', 'none before start')
  stream.start(PREAMBLE, 0)
  await flush()
  stream.heartbeat()
  t.same(res.items().filter((item) => item.type === 'comment'), [{ type: 'comment', text: 'ping' }])
  res.accepting = false
  stream.push(store.commit(USER, 1))
  const before = res.chunks.length
  stream.heartbeat()
  stream.heartbeat()
  t.equal(res.chunks.length, before, 'no heartbeat on a blocked socket')
  res.drain()
  await flush()
  stream.heartbeat()
  t.equal(res.items().filter((item) => item.type === 'comment').length, 2, 'heartbeats again after drain')
})

t.test('transient events are written live and dropped before start', async (t) => {
  const { res, stream } = setup()
  stream.sendTransient('presence', '{"online":true}')
  stream.start(PREAMBLE, 0)
  await flush()
  stream.sendTransient('presence', '{"online":false}')
  t.same(res.items().slice(1), [{ type: 'frame', frame: { id: undefined, event: 'presence', data: '{"online":false}' } }])
})

t.test('revoke tells the client, then ends the stream', async (t) => {
  const { store, res, stream, closings } = setup()
  stream.start(PREAMBLE, 0)
  await flush()
  stream.revoke()
  t.ok(res.ended)
  t.notOk(res.destroyed)
  t.same(res.items().at(-1), { type: 'frame', frame: { id: undefined, event: 'session.revoked', data: '{}' } })
  t.ok(stream.closed)
  t.equal(closings(), 1)
  stream.revoke()
  stream.close()
  stream.push(store.commit(USER, 1))
  await flush()
  t.equal(closings(), 1, 'once')
  t.same(res.ids(), [], 'nothing after the revocation')
})

t.test('revoke on a blocked socket destroys it instead of waiting on a client that does not read', async (t) => {
  const { store, res, stream, closings } = setup()
  stream.start(PREAMBLE, 0)
  await flush()
  res.accepting = false
  stream.push(store.commit(USER, 1))
  stream.revoke()
  t.ok(res.destroyed)
  t.notOk(res.ended)
  t.ok(stream.closed)
  t.equal(closings(), 1)
})

t.test('a failed read closes the stream and says why', async (t) => {
  const { store, res, stream, entries } = setup()
  store.failures = 1
  stream.start(PREAMBLE, 0)
  await flush()
  t.ok(stream.closed)
  t.ok(res.ended)
  t.match(entries, [{ level: 'error', args: [{ err: { message: 'database unavailable' }, userId: USER }, /catch-up failed/] }])
})
