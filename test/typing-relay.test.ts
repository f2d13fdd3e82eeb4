// The typing relay alone (no server): what it publishes on the bus for a burst of requests, window by window.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { Bus, BusMessage } from '../src/bus/index.ts'
import { TypingRelay } from '../src/features/events/typing.ts'

const WINDOW = 40
const silentLog = { warn: () => {} } as never

function relay (): { typing: TypingRelay, published: BusMessage[] } {
  const published: BusMessage[] = []
  const bus = { publish: async (message: BusMessage) => { published.push(message) } } as unknown as Bus
  const typing = new TypingRelay(bus, silentLog, WINDOW)
  t.teardown(() => typing.stop())
  return { typing, published }
}

async function until (check: () => boolean): Promise<void> {
  while (!check()) await sleep(5)
}

t.test('a burst: the first state at once, the last one at the end of the window', async (t) => {
  const { typing, published } = relay()
  // Synchronous calls all fall within one window, however slow the machine.
  for (let i = 0; i < 10; i++) typing.offer('a', 'b', true)
  typing.offer('a', 'b', false)
  t.same(published, [{ t: 'y', u: 'b', f: 'a', y: true }])
  await until(() => published.length === 2)
  t.same(published[1], { t: 'y', u: 'b', f: 'a', y: false })
  await sleep(WINDOW * 3)
  t.equal(published.length, 2, 'nothing more')
})

t.test('a state equal to the one sent is not sent again at the end of the window', async (t) => {
  const { typing, published } = relay()
  typing.offer('a', 'b', true)
  typing.offer('a', 'b', false)
  typing.offer('a', 'b', true)
  await sleep(WINDOW * 3)
  t.same(published.map((m) => m.t === 'y' && m.y), [true])
})

t.test('pairs are independent, in both directions', async (t) => {
  const { typing, published } = relay()
  typing.offer('a', 'b', true)
  typing.offer('a', 'c', true)
  typing.offer('b', 'a', true)
  t.same(published.map((m) => m.t === 'y' && [m.f, m.u]), [['a', 'b'], ['a', 'c'], ['b', 'a']])
})

t.test('after a quiet window the next request goes at once', async (t) => {
  const { typing, published } = relay()
  typing.offer('a', 'b', true)
  await sleep(WINDOW * 3)
  typing.offer('a', 'b', true)
  t.equal(published.length, 2)
  typing.stop()
  typing.offer('a', 'b', false)
  t.equal(published.length, 3, 'stop forgets the windows')
})
