// drizzle with patches/drizzle-orm+0.45.4.patch: on PostgreSQL its queries are prepared statements, described once
// per connection (unpatched, each goes out unnamed and costs postgres.js a describe round trip every time), while
// queryRowsPlannedEachTime stays unnamed. PostgreSQL only.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq, sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { openDatabase, queryRows, queryRowsPlannedEachTime, transaction } from '../src/db/client.ts'
import { migrateDatabase } from '../src/db/migrate.ts'
import { users } from '../src/db/schema.ts'
import { createTestDatabase, usingPostgres } from './helpers/app.ts'

if (!usingPostgres) t.plan(0, 'PostgreSQL only (set DATABASE_URL)')

if (usingPostgres) {
  /** The statements prepared on the one connection of a pool on `databaseUrl` after a few queries. */
  async function preparedAfterQueries (t: Test, databaseUrl: string): Promise<string[]> {
    const dataDir = mkdtempSync(join(tmpdir(), 'chat-prepared-'))
    // One connection, so the view below sees the statements of the connection that ran them.
    const database = await openDatabase({ databaseUrl, dataDir, poolSize: 1 })
    t.teardown(async () => {
      await database.close()
      rmSync(dataDir, { recursive: true, force: true })
    })
    await migrateDatabase(database)
    const { db } = database
    for (let i = 0; i < 3; i++) {
      await db.select({ id: users.id }).from(users).where(eq(users.username, `prepared-probe-${i}`))
      await transaction(db, async (tx) => ({ value: await tx.select({ id: users.id }).from(users).where(eq(users.id, randomUUID())), last: [] }))
      await queryRowsPlannedEachTime(db, sql`select ${'unnamed'}::text as planned_each_time`)
    }
    return (await queryRows<{ statement: string }>(db, sql`select statement from pg_prepared_statements`)).map((row) => row.statement)
  }

  t.test('drizzle queries are prepared once per connection; the planned-each-time ones are not', async (t) => {
    const prepared = await preparedAfterQueries(t, (await createTestDatabase(t))!)
    t.equal(prepared.filter((statement) => statement.includes('"username" = $1')).length, 1, 'the builder\'s query is one named statement, reused for every value')
    t.equal(prepared.filter((statement) => statement.includes('"id" = $1')).length, 1, 'in a transaction too')
    t.notOk(prepared.some((statement) => statement.includes('planned_each_time')), 'queryRowsPlannedEachTime is never prepared')
  })

  t.test('?prepare=false in DATABASE_URL (for a pooler that cannot keep them) prepares none', async (t) => {
    const url = new URL((await createTestDatabase(t))!)
    url.searchParams.set('prepare', 'false')
    const prepared = await preparedAfterQueries(t, url.toString())
    t.same(prepared.filter((statement) => statement.includes('"users"')), [])
  })
}
