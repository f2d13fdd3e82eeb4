// The embedded database's settings: PostgreSQL's shared buffers live in the server's own memory in PGlite, so
// they are kept small (the operating system caches the data files anyway); a new data directory is created and
// migrated by a child process, so that the server does not keep the memory that took. PGlite only.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'drizzle-orm'
import t from 'tap'
import { openDatabase, queryRows } from '../src/db/client.ts'
import { migrationsFolder } from '../src/db/migrations-folder.ts'
import { openTestDatabase, usingPostgres } from './helpers/app.ts'

if (usingPostgres) t.plan(0, 'PGlite only (unset DATABASE_URL)')

if (!usingPostgres) {
  t.test('shared_buffers is 16MB (set at every start, so existing data directories get it too)', async (t) => {
    const { db } = await openTestDatabase(t)
    const [row] = await queryRows<{ shared_buffers: string }>(db, sql`show shared_buffers`)
    t.equal(row!.shared_buffers, '16MB')
  })

  t.test('a new data directory opens already migrated, and opens again as it was', async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'chat-new-db-'))
    t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
    const migrations = readdirSync(migrationsFolder).filter((name) => name.endsWith('.sql')).length
    const applied = async (): Promise<number> => {
      const database = await openDatabase({ databaseUrl: undefined, dataDir })
      try {
        await database.db.execute(sql`insert into users (username, email, password_hash) select 'u' || count(*), count(*) || '@example.com', 'x' from users`)
        const [row] = await queryRows<{ n: number }>(database.db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`)
        return row!.n
      } finally {
        await database.close()
      }
    }
    t.equal(await applied(), migrations, 'every migration applied before the server opens it')
    t.equal(await applied(), migrations, 'reopened: nothing applied twice')
    const database = await openDatabase({ databaseUrl: undefined, dataDir })
    try {
      t.same(await queryRows(database.db, sql`select username from users order by username`), [{ username: 'u0' }, { username: 'u1' }], 'the rows written stayed')
    } finally {
      await database.close()
    }
  })
}
