// A user deleted while a request that refers to them runs (their account deleted a moment after the request's
// checks found them): the write then names a row that is gone, and the answer is the 4xx of a missing user, never
// a 500. A trigger deletes the user just before the write, so the race happens every time.
import { eq, sql } from 'drizzle-orm'
import tap, { type Test } from 'tap'
import { messages } from '../src/db/schema.ts'
import { startApp } from './helpers/app.ts'
import { addContact, apiClient, registerUser } from './helpers/client.ts'

/** Until the test ends, an insert into `table` first deletes the user its `column` names. */
async function deleteUserBeforeInsert (t: Test, db: { execute: (query: ReturnType<typeof sql>) => Promise<unknown> }, table: string, column: string) {
  const name = `vanish_${table}`
  await db.execute(sql.raw(`create function ${name}() returns trigger language plpgsql as $$ begin delete from users where id = new.${column}; return new; end $$`))
  await db.execute(sql.raw(`create trigger ${name} before insert on ${table} for each row execute function ${name}()`))
  t.teardown(async () => {
    await db.execute(sql.raw(`drop trigger ${name} on ${table}`))
    await db.execute(sql.raw(`drop function ${name}()`))
  })
}

tap.test('a user deleted during the request: 4xx, not 500', async (t) => {
  const { app, baseUrl } = await startApp(t)

  await t.test('adding them as a contact: 404 USER_NOT_FOUND', async (t) => {
    const [alice, carol] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl)])
    await deleteUserBeforeInsert(t, app.db, 'contacts', 'contact_id')
    const { response, error } = await alice.api.POST('/contacts', { body: { userId: carol.id } })
    t.equal(response.status, 404)
    t.equal(error?.code, 'USER_NOT_FOUND')
  })

  await t.test('sending them a message: 404 USER_NOT_FOUND, nothing stored', async (t) => {
    const [alice, bob] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl)])
    await addContact(alice, bob)
    await deleteUserBeforeInsert(t, app.db, 'messages', 'receiver_id')
    const { response, error } = await alice.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } }, body: { content: 'too late' } })
    t.equal(response.status, 404)
    t.equal(error?.code, 'USER_NOT_FOUND')
    t.equal(await app.db.$count(messages, eq(messages.content, 'too late')), 0, 'nothing stored')
  })

  await t.test('logging in as them: 401 INVALID_CREDENTIALS', async (t) => {
    const dave = await registerUser(baseUrl)
    await deleteUserBeforeInsert(t, app.db, 'sessions', 'user_id')
    const { response, error } = await apiClient(baseUrl).POST('/auth/login', { body: { username: dave.username, password: dave.password } })
    t.equal(response.status, 401)
    t.equal(error?.code, 'INVALID_CREDENTIALS')
  })
})
