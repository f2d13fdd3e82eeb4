// drizzle with patches/drizzle-orm+0.45.4.patch: on PostgreSQL its queries are prepared statements, described once
// per connection (unpatched, each goes out unnamed and costs postgres.js a describe round trip every time), while
// queryRowsPlannedEachTime stays unnamed. PostgreSQL only.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq, sql } from 'drizzle-orm'
import t from 'tap'
import { openDatabase, queryRows, queryRowsPlannedEachTime } from '../src/db/client.ts'
import { migrateDatabase } from '../src/db/migrate.ts'
import { users } from '../src/db/schema.ts'
import { createTestDatabase, usingPostgres } from './helpers/app.ts'

if (!usingPostgres) t.plan(0, 'PostgreSQL only (set DATABASE_URL)')

if (usingPostgres) {
  t.test('drizzle queries are prepared once per connection; the planned-each-time ones are not', async (t) => {
    const databaseUrl = await createTestDatabase(t)
    const dataDir = mkdtempSync(join(tmpdir(), 'chat-prepared-'))
    // One connection, so the view below sees the statements of the connection that ran them.
    const database = await openDatabase({ databaseUrl, dataDir, poolSize: 1 })
    t.teardown(async () => {
      await database.close()
      rmSync(dataDir, { recursive: true, force: true })
    })
    await migrateDatabase(database)
    const { db } = database
    const marker = 'prepared-probe'
    for (let i = 0; i < 3; i++) {
      await db.select({ id: users.id }).from(users).where(eq(users.username, `${marker}-${i}`))
      await queryRowsPlannedEachTime(db, sql`select ${`${marker}-unnamed`}::text as planned_each_time`)
    }
    const prepared = await queryRows<{ statement: string }>(db, sql`select statement from pg_prepared_statements`)
    const ours = prepared.filter((row) => row.statement.includes('"username" = $1'))
    t.equal(ours.length, 1, 'the builder\'s query is one named statement, reused for every value')
    t.notOk(prepared.some((row) => row.statement.includes('planned_each_time')), 'queryRowsPlannedEachTime is never prepared')
  })
}
