// The same client id sent through two instances at once, inside batches of other sends: one message is stored and
// delivered once, one answer is 201 and the other a 200 retry with the same message, and the other sends of both
// batches are stored and delivered (the batch that finds the id taken at its insert skips it and settles it after).
import { randomUUID } from 'node:crypto'
import { inArray } from 'drizzle-orm'
import t from 'tap'
import { messages } from '../src/db/schema.ts'
import { severalInstancesSkip as skip, startTwoInstances, type TestApp, usingPostgres } from './helpers/app.ts'
import { addContact, registerUser } from './helpers/client.ts'
import { dataOf, openStream, via } from './helpers/messages.ts'

const ROUNDS = 25

let a: TestApp
let b: TestApp
if (usingPostgres) [a, b] = await startTwoInstances(t)

t.test('one id raced through two instances: stored and delivered once, the batches around it intact', { skip }, async (t) => {
  const [alice, bob] = await Promise.all([registerUser(a.baseUrl), registerUser(a.baseUrl)])
  await addContact(alice, bob)
  const stream = await openStream(t, a.baseUrl, bob)
  const onA = via(a.baseUrl, alice)
  const onB = via(b.baseUrl, alice)
  const send = (user: typeof alice, body: { id?: string, content: string }) =>
    user.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } }, body })
  const raced: string[] = []
  const others: string[] = []
  for (let round = 0; round < ROUNDS; round++) {
    const id = randomUUID()
    raced.push(id)
    const [first, second, ...around] = await Promise.all([
      send(onA, { id, content: `raced ${round}` }),
      send(onB, { id, content: `raced ${round}` }),
      ...[onA, onB, onA, onB].map((user, i) => send(user, { content: `around ${round}.${i}` }))
    ])
    t.same([first!.response.status, second!.response.status].sort(), [200, 201], `round ${round}: one stored, one a retry`)
    t.same(first!.data, second!.data, 'both answered with the same message')
    t.same(around.map((result) => result.response.status), [201, 201, 201, 201], 'the sends around it stored')
    others.push(...around.map((result) => result.data!.id))
  }
  const stored = await a.app.db.select({ id: messages.id }).from(messages).where(inArray(messages.id, [...raced, ...others]))
  t.equal(stored.length, raced.length + others.length, 'each stored once')
  await stream.waitFor(() => dataOf(stream, 'message.created').length >= raced.length + others.length, 30_000, 'every message delivered')
  const delivered = dataOf(stream, 'message.created').map((message: { id: string }) => message.id)
  t.same([...delivered].sort(), [...raced, ...others].sort(), 'each delivered exactly once')
})
