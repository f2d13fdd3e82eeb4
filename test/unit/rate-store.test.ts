// The shared rate-limit store (several instances on one PostgreSQL): counts survive a sync in flight, and two
// stores on one database add up.
import t from 'tap'
import { SharedRateStore } from '../../src/plugins/rate-store.ts'
import { startApp } from '../helpers/app.ts'

const { app } = await startApp(t)
const WINDOW = 60_000

function incr (store: SharedRateStore, key: string): Promise<number> {
  return new Promise((resolve, reject) => store.incr(key, (err, result) => err === null ? resolve(result.current) : reject(err), WINDOW))
}

t.test('hits counted while a sync is in flight are neither lost nor counted twice', async (t) => {
  const store = new SharedRateStore(app.db, app.log, 3600_000)
  t.teardown(() => store.close())
  for (let i = 1; i <= 3; i++) t.equal(await incr(store, 'k1'), i)
  const sync = store.sync() // takes the 3 hits to the database
  t.equal(await incr(store, 'k1'), 4, 'a hit during the sync still sees the 3 being synced')
  await sync
  t.equal(await incr(store, 'k1'), 5, 'after the sync: 3 shared + 2 here')
  await store.sync()
  t.equal(await incr(store, 'k1'), 6)
})

t.test('two stores on one database (two instances) count together once synced', async (t) => {
  const a = new SharedRateStore(app.db, app.log, 3600_000)
  const b = new SharedRateStore(app.db, app.log, 3600_000)
  t.teardown(async () => { await a.close(); await b.close() })
  for (let i = 0; i < 4; i++) await incr(a, 'k2')
  await a.sync()
  await incr(b, 'k2')
  await b.sync()
  t.equal(await incr(b, 'k2'), 6, 'b sees a\'s 4 and its own 2')
  await b.sync()
  t.equal(await incr(a, 'k2'), 5, 'a learns of b\'s hits with its next sync: until then it counts its own')
  await a.sync()
  t.equal(await incr(a, 'k2'), 8, 'then a sees b\'s 2 too')
})
