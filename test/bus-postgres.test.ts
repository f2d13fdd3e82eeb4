// The LISTEN/NOTIFY bus's watchdog: a listener that silently stopped delivering is replaced, and a pool too busy to
// send the watchdog's ping at once is not taken for one (replacing it would catch every stream up from the
// database, adding to the load that delayed the ping). PostgreSQL only.
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { Bus, BusMessage } from '../src/bus/index.ts'
import { createPostgresBus } from '../src/bus/postgres.ts'
import type { Database } from '../src/db/client.ts'
import { openTestDatabase, usingPostgres } from './helpers/app.ts'
import { Proxy } from './helpers/tcp-proxy.ts'
import { until } from './helpers/wait.ts'

if (!usingPostgres) t.plan(0, 'PostgreSQL only (set DATABASE_URL)')

const WATCHDOG_MS = 100

type PostgresDatabase = Extract<Database, { kind: 'postgres' }>

async function watchedBus (t: Parameters<typeof openTestDatabase>[0], database: PostgresDatabase): Promise<{ bus: Bus, received: BusMessage[], reconnects: () => number }> {
  const bus = await createPostgresBus(database, { watchdogMs: WATCHDOG_MS })
  t.teardown(() => bus.close())
  const received: BusMessage[] = []
  let reconnects = 0
  bus.onMessage((message) => { received.push(message) })
  bus.onReconnect(() => { reconnects++ })
  return { bus, received, reconnects: () => reconnects }
}

t.test('a pool busy for many watchdog periods does not replace the listener', async (t) => {
  const database = await openTestDatabase(t) as PostgresDatabase
  const watched = await watchedBus(t, database)
  const other = await createPostgresBus(database, { watchdogMs: WATCHDOG_MS })
  t.teardown(() => other.close())
  await sleep(WATCHDOG_MS * 3)

  // Every connection of the pool busy for 15 watchdog periods: the ping waits for one all that time.
  const busy = Array.from({ length: database.client.options.max }, () => database.client`select pg_sleep(${WATCHDOG_MS * 15 / 1000})`)
  await sleep(WATCHDOG_MS * 5)
  t.ok(watched.bus.connected(), 'reported connected while its ping waits for the pool')
  await Promise.all(busy)
  await sleep(WATCHDOG_MS * 5)
  t.equal(watched.reconnects(), 0, 'the listener was not replaced')
  t.ok(watched.bus.connected(), 'connected')

  await other.publish({ t: 'e', u: '*' })
  await until(() => watched.received.length > 0, 'a notice from another instance')
  t.match(watched.received, [{ t: 'e', u: '*', i: other.instanceId }], 'notices still arrive')
})

t.test('a listener that silently stops delivering is replaced, and notices arrive again', async (t) => {
  const database = await openTestDatabase(t) as PostgresDatabase
  // The listener reaches PostgreSQL through a proxy; the pool, which sends the pings, does not.
  const direct = new URL(database.url)
  const proxy = await Proxy.create(Number(direct.port || 5432))
  t.teardown(() => proxy.close())
  const proxied = new URL(direct)
  proxied.port = String(proxy.port)
  const watched = await watchedBus(t, { ...database, url: proxied.toString() })
  const other = await createPostgresBus(database, { watchdogMs: WATCHDOG_MS })
  t.teardown(() => other.close())
  await sleep(WATCHDOG_MS * 3)

  proxy.stall()
  await until(() => watched.reconnects() > 0, 'the listener replaced', 10_000)
  t.pass('replaced')
  await other.publish({ t: 'e', u: '*' })
  await until(() => watched.received.length > 0, 'a notice through the new listener')
  t.match(watched.received, [{ t: 'e', u: '*', i: other.instanceId }], 'notices arrive again')
})
