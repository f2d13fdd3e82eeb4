// The transaction runner of the outbox (src/db/client.ts `transaction`): on PostgreSQL its BEGIN goes out with the
// first statement and its last statements with the COMMIT; on both databases it is all or nothing.
import { sql } from 'drizzle-orm'
import postgres from 'postgres'
import t from 'tap'
import { arrayPlaceholder } from '../src/db/arrays.ts'
import { BuiltStatement } from '../src/db/built-statement.ts'
import { queryRows, transaction } from '../src/db/client.ts'
import { violatedUniqueConstraint } from '../src/db/errors.ts'
import { openTestDatabase, usingPostgres } from './helpers/app.ts'

t.test('transaction', async (t) => {
  const database = await openTestDatabase(t)
  const { db } = database
  await db.execute(sql`create table probe (id int primary key, note text not null)`)
  const notes = async (): Promise<string[]> =>
    (await queryRows<{ note: string }>(db, sql`select note from probe order by id`)).map((row) => row.note)

  t.beforeEach(async () => { await db.execute(sql`delete from probe`) })

  t.test('runs the work, then the last statements in order, then commits; answers the rows of each last statement', async (t) => {
    const committed = await transaction(db, async (tx) => {
      await tx.execute(sql`insert into probe values (1, 'work')`)
      return {
        value: 'done',
        last: [sql`insert into probe values (2, 'last')`, sql`update probe set note = note || ' then updated' where id = 2 returning note`]
      }
    })
    t.equal(committed.value, 'done')
    t.same(committed.lastRows.map((rows) => [...rows]), [[], [{ note: 'last then updated' }]])
    t.same(await notes(), ['work', 'last then updated'])
  })

  t.test('a built statement runs with new values each time, on the database, in a transaction and with the COMMIT', async (t) => {
    const insert = new BuiltStatement<{ id: number, note: string }>(sql`insert into probe select * from unnest(${arrayPlaceholder('ids', 'bigint')}, ${arrayPlaceholder('notes', 'text')})
      returning id::int, note`)
    t.same(await insert.rows(db, { ids: [1, 2], notes: ['one', 'two'] }), [{ id: 1, note: 'one' }, { id: 2, note: 'two' }])
    const { value, lastRows } = await transaction(db, async (tx) => ({
      value: await insert.rows(tx, { ids: [3], notes: ['three'] }),
      last: [insert.bind({ ids: [4], notes: ['four'] })]
    }))
    t.same(value, [{ id: 3, note: 'three' }], 'in the transaction')
    t.same([...lastRows[0]!], [{ id: 4, note: 'four' }], 'bound, with the COMMIT')
    t.same(await notes(), ['one', 'two', 'three', 'four'])
  })

  t.test('a failing last statement rolls everything back and its error is thrown', async (t) => {
    const failure = await transaction(db, async (tx) => {
      await tx.execute(sql`insert into probe values (1, 'work')`)
      return { value: undefined, last: [sql`insert into probe values (2, 'last')`, sql`insert into probe values (2, 'same id')`] }
    }).then(() => undefined, (err: unknown) => err)
    t.equal(violatedUniqueConstraint(failure), 'probe_pkey', 'the failing statement\'s error')
    t.same(await notes(), [], 'nothing of it stays')
    await transaction(db, async (tx) => {
      await tx.execute(sql`insert into probe values (3, 'next')`)
      return { value: undefined, last: [] }
    })
    t.same(await notes(), ['next'], 'the next transaction works (its connection was left clean)')
  })

  t.test('work that throws rolls back and the last statements never run', async (t) => {
    await t.rejects(transaction(db, async (tx) => {
      await tx.execute(sql`insert into probe values (1, 'work')`)
      throw new Error('changed my mind')
    }), { message: 'changed my mind' })
    t.same(await notes(), [])
  })

  if (usingPostgres) {
    t.test('PostgreSQL: the work runs inside the transaction (another connection sees nothing until the commit)', async (t) => {
      const other = postgres((database as { url: string }).url, { max: 1, onnotice: () => {} })
      t.teardown(() => other.end({ timeout: 1 }))
      let seenDuring: number | undefined
      await transaction(db, async (tx) => {
        await tx.execute(sql`insert into probe values (1, 'work')`)
        const [row] = await other`select count(*)::int as n from probe`
        seenDuring = row!.n as number
        return { value: undefined, last: [sql`insert into probe values (2, 'last')`] }
      })
      t.equal(seenDuring, 0, 'not visible before the commit')
      const [row] = await other`select count(*)::int as n from probe`
      t.equal(row!.n, 2, 'both visible after it')
    })

    t.test('PostgreSQL: concurrent transactions each get a connection of their own', async (t) => {
      await Promise.all(Array.from({ length: 40 }, (_, i) => transaction(db, async (tx) => {
        await tx.execute(sql`insert into probe values (${i}, ${`n${i}`})`)
        return { value: undefined, last: [sql`update probe set note = note || '!' where id = ${i}`] }
      })))
      const all = await notes()
      t.equal(all.length, 40)
      t.ok(all.every((note) => note.endsWith('!')))
    })
  }
})
