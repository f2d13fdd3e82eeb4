// A quick end-to-end pass: register, contacts, the event stream.
import t from 'tap'
import { startApp } from './helpers/app.ts'
import { registerUser } from './helpers/client.ts'
import { openStream } from './helpers/sse.ts'

t.test('register, follow the stream, add a contact', async (t) => {
  const { baseUrl } = await startApp(t)
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  const stream = await openStream(t, baseUrl, { token: alice.token })
  t.equal(stream.status, 200)
  const added = await alice.api.POST('/contacts', { body: { username: bob.username.toUpperCase() } })
  t.equal(added.response.status, 201)
  t.equal(added.data?.contactId, bob.id)
  const frame = await stream.waitForEvent('contact.added')
  t.equal(frame.id, '1')
  t.equal(JSON.parse(frame.data).contactId, bob.id)
  const list = await alice.api.GET('/contacts')
  t.same(list.data?.contacts.map((c) => c.contactId), [bob.id])
})
