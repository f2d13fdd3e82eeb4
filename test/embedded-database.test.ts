// The embedded database's settings: PostgreSQL's shared buffers live in the server's own memory in PGlite, so
// they are kept small (the operating system caches the data files anyway). PGlite only.
import { sql } from 'drizzle-orm'
import t from 'tap'
import { queryRows } from '../src/db/client.ts'
import { openTestDatabase, usingPostgres } from './helpers/app.ts'

if (usingPostgres) t.plan(0, 'PGlite only (unset DATABASE_URL)')

if (!usingPostgres) {
  t.test('shared_buffers is 16MB (set at every start, so existing data directories get it too)', async (t) => {
    const { db } = await openTestDatabase(t)
    const [row] = await queryRows<{ shared_buffers: string }>(db, sql`show shared_buffers`)
    t.equal(row!.shared_buffers, '16MB')
  })
}
