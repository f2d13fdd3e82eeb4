// Every drizzle query is a prepared statement, parsed once: on PostgreSQL through patches/drizzle-orm+0.45.4.patch
// (unpatched, each goes out unnamed and costs postgres.js a describe round trip every time), on PGlite through
// PreparedStatements (src/db/pglite-statements.ts; PGlite's own query() parses each statement again in six calls).
// queryRowsPlannedEachTime stays unnamed on both.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { eq, sql } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { type Database, openDatabase, queryRows, queryRowsPlannedEachTime, transaction } from '../src/db/client.ts'
import { migrateDatabase } from '../src/db/migrate.ts'
import { inThisThread, PreparedStatements } from '../src/db/pglite-statements.ts'
import { users } from '../src/db/schema.ts'
import { createTestDatabase, openTestDatabase, usingPostgres } from './helpers/app.ts'

/** The statements prepared on the database's (one) connection after a few queries. */
async function preparedAfterQueries ({ db }: Database): Promise<string[]> {
  for (let i = 0; i < 3; i++) {
    await db.select({ id: users.id }).from(users).where(eq(users.username, `prepared-probe-${i}`))
    await transaction(db, async (tx) => ({ value: await tx.select({ id: users.id }).from(users).where(eq(users.id, randomUUID())), last: [] }))
    await queryRowsPlannedEachTime(db, sql`select ${'unnamed'}::text as planned_each_time`)
  }
  return (await queryRows<{ statement: string }>(db, sql`select statement from pg_prepared_statements`)).map((row) => row.statement)
}

/** A PostgreSQL pool of one connection, so that pg_prepared_statements shows the statements of the connection that ran them. */
async function openOneConnection (t: Test, databaseUrl: string): Promise<Database> {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-prepared-'))
  const database = await openDatabase({ databaseUrl, dataDir, poolSize: 1 })
  t.teardown(async () => {
    await database.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  await migrateDatabase(database)
  return database
}

t.test('drizzle queries are prepared once; the planned-each-time ones are not', async (t) => {
  const database = usingPostgres ? await openOneConnection(t, (await createTestDatabase(t))!) : await openTestDatabase(t)
  const prepared = await preparedAfterQueries(database)
  t.equal(prepared.filter((statement) => statement.includes('"username" = $1')).length, 1, 'the builder\'s query is one named statement, reused for every value')
  t.equal(prepared.filter((statement) => statement.includes('"id" = $1')).length, 1, 'in a transaction too')
  t.notOk(prepared.some((statement) => statement.includes('planned_each_time')), 'queryRowsPlannedEachTime is never prepared')
})

if (usingPostgres) {
  t.test('?prepare=false in DATABASE_URL (for a pooler that cannot keep them) prepares none', async (t) => {
    const url = new URL((await createTestDatabase(t))!)
    url.searchParams.set('prepare', 'false')
    const prepared = await preparedAfterQueries(await openOneConnection(t, url.toString()))
    t.same(prepared.filter((statement) => statement.includes('"users"')), [])
  })
} else {
  t.test('PGlite: prepared statements answer what PGlite\'s own query answers', async (t) => {
    const pg = await PGlite.create()
    t.teardown(() => pg.close())
    // At most two kept: the third text runs as the unnamed statement, parsed each time.
    const statements = await PreparedStatements.open(inThisThread(pg), 2)
    await pg.exec('create table probe (id uuid primary key, n bigint, note text, at timestamptz, ok boolean, tags text[])')
    const id = randomUUID()
    const insert = 'insert into probe select * from unnest($1::uuid[], $2::bigint[], $3::text[]) as v(id, n, note) returning id, n, note'
    const inserted = await statements.query(insert, [[id, randomUUID()], [1, 2 ** 40], ['it\'s "quoted", {braced}', null]])
    t.same(inserted.rows, (await pg.query('select id, n, note from probe order by n')).rows, 'arrays in, rows out, as PGlite parses them')
    t.equal(inserted.affectedRows, 2)

    const update = 'update probe set at = $2, ok = $3, tags = $4 where id = $1 returning at, ok, tags'
    const at = new Date('2026-12-02T10:00:00.123Z')
    const updated = await statements.query<{ at: Date, ok: boolean, tags: string[] }>(update, [id, at, true, ['a', 'b,c']])
    t.same(updated.rows, [{ at, ok: true, tags: ['a', 'b,c'] }], 'dates, booleans, text arrays')
    const arrays = await statements.query<unknown[]>('select $1::int as n, $2::text as t', [7, null], { rowMode: 'array' })
    t.same(arrays.rows, [[7, null]], 'rowMode array, and null')

    const failure = await statements.query(insert, [[id], [3], ['again']]).then(() => undefined, (err: unknown) => err as { code?: string, constraint?: string })
    t.equal(failure?.code, '23505', 'a unique violation keeps PostgreSQL\'s code')
    t.equal(failure?.constraint, 'probe_pkey')
    t.same((await statements.query('select count(*)::int as n from probe where n > $1', [0])).rows, [{ n: 2 }], 'the next statement runs (the failed one left nothing behind)')
    t.same((await pg.query<{ name: string }>('select name from pg_prepared_statements order by name')).rows.map((row) => row.name), ['s1', 's2'],
      'two kept; the third text ran unnamed')
    t.same((await statements.query('select count(*)::int as n from probe where n > $1', [1])).rows, [{ n: 1 }], 'the unnamed one runs again with other values')
  })

  t.test('PGlite: a transaction is all or nothing, and other queries wait for it', async (t) => {
    const pg = await PGlite.create()
    t.teardown(() => pg.close())
    const statements = await PreparedStatements.open(inThisThread(pg))
    await pg.exec('create table probe (id int primary key)')
    let release!: () => void
    const holding = new Promise<void>((resolve) => { release = resolve })
    const inTransaction = statements.transaction(async (tx) => {
      await tx.query('insert into probe values ($1)', [1])
      await holding
      await tx.query('insert into probe values ($1)', [1]) // fails: rolls back the first insert
    }).then(() => 'committed', () => 'rolled back')
    const outside = statements.query<{ n: number }>('select count(*)::int as n from probe where id > $1', [0])
    release()
    t.equal(await inTransaction, 'rolled back')
    t.same((await outside).rows, [{ n: 0 }], 'the query outside ran after the transaction, and saw none of it')
  })

  t.test('PGlite: statements issued together go out in one call, and fail alone', async (t) => {
    const pg = await PGlite.create()
    t.teardown(() => pg.close())
    const engine = inThisThread(pg)
    let calls = 0
    const statements = await PreparedStatements.open({ exec: (message) => { calls++; return engine.exec(message) }, close: engine.close })
    await pg.exec('create table probe (id int primary key)')
    const insert = 'insert into probe values ($1) returning id'
    await statements.query(insert, [0]) // (parsed once, then bound)
    calls = 0
    const outcomes = await Promise.allSettled([statements.query(insert, [1]), statements.query(insert, [1]), statements.query(insert, [2])])
    t.equal(calls, 1, 'three statements, one call')
    t.same(outcomes.map((outcome) => outcome.status), ['fulfilled', 'rejected', 'fulfilled'], 'the duplicate fails, the others are stored')
    t.equal((outcomes[1] as PromiseRejectedResult).reason.code, '23505')
    t.same((await pg.query<{ id: number }>('select id from probe order by id')).rows.map((row) => row.id), [0, 1, 2])

    calls = 0
    const rows = await statements.transaction(async (tx) => {
      await tx.query(insert, [3])
      return await tx.commitWith([{ text: insert, params: [4] }, { text: insert, params: [5] }])
    })
    t.equal(calls, 2, 'a transaction of three statements in two calls: BEGIN with the first, the last two with the COMMIT')
    t.same(rows, [[{ id: 4 }], [{ id: 5 }]], 'commitWith answers the rows of its statements')
    t.same((await pg.query<{ n: number }>('select count(*)::int as n from probe')).rows, [{ n: 6 }], 'committed')

    const failed = await statements.transaction(async (tx) => {
      await tx.query(insert, [6])
      return await tx.commitWith([{ text: insert, params: [0] }])
    }).then(() => undefined, (err: { code?: string }) => err)
    t.equal(failed?.code, '23505', 'a statement sent with the COMMIT that fails rolls the transaction back')
    t.same((await pg.query<{ n: number }>('select count(*)::int as n from probe where id = 6')).rows, [{ n: 0 }], 'nothing of it stays')
    t.same((await statements.query<{ n: number }>('select count(*)::int as n from probe where id > $1', [-1])).rows, [{ n: 6 }], 'and the connection is usable')
  })

  t.test('PGlite: a query outside transactions runs between them, never inside one', async (t) => {
    const pg = await PGlite.create()
    t.teardown(() => pg.close())
    const statements = await PreparedStatements.open(inThisThread(pg))
    await pg.exec('create table probe (id int primary key)')
    const order: string[] = []
    let release!: () => void
    const holding = new Promise<void>((resolve) => { release = resolve })
    const first = statements.transaction(async (tx) => {
      await tx.query('insert into probe values ($1)', [1])
      await holding
      order.push('first commits')
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    const outside = statements.query<{ n: number }>('select count(*)::int as n from probe where id > $1', [0]).then((result) => {
      order.push('outside')
      return result
    })
    const second = statements.transaction(async (tx) => {
      order.push('second begins')
      await tx.query('insert into probe values ($1)', [2])
    })
    await new Promise((resolve) => setTimeout(resolve, 20))
    t.same(order, [], 'both wait for the first transaction')
    release()
    await Promise.all([first, outside, second])
    t.equal(order[0], 'first commits')
    t.same((await outside).rows, [{ n: 1 }], 'the query that waited ran after the first transaction and before the second')
  })

  t.test('PGlite: statements parsed at the same time, some failing, never get one name twice', async (t) => {
    const pg = await PGlite.create()
    t.teardown(() => pg.close())
    const statements = await PreparedStatements.open(inThisThread(pg))
    await pg.exec('create table probe (id int primary key)')
    const failures: string[] = []
    for (let round = 0; round < 20; round++) {
      // A text that fails to parse, beside new ones, and more new ones issued as soon as answers come back.
      const next = (n: number) => statements.query(`select ${round * 10 + n}::int as n from probe where id > $1`, [0])
      const outcomes = await Promise.allSettled([
        statements.query(`select missing_${round} from probe`).catch(() => next(1)),
        next(2).then(() => next(3)),
        next(4).then(() => Promise.all([next(5), next(6)]))
      ])
      for (const outcome of outcomes) if (outcome.status === 'rejected') failures.push(String(outcome.reason))
    }
    t.same(failures, [], 'every valid statement ran')
  })
}
