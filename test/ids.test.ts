// Ids: one canonical UUID form everywhere (path, query, body, multipart field). A prefixed or malformed id is
// 400 naming the field, never a 500; an upper-case id means the same as its lower-case form.
import { randomUUID } from 'node:crypto'
import tap from 'tap'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'
import { PNG, upload } from './helpers/upload.ts'

interface Answer { status: number, body: any }

async function call (baseUrl: string, user: TestUser, method: string, path: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${user.token}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const text = await response.text()
  const json = response.headers.get('content-type')?.startsWith('application/json') === true
  return { status: response.status, body: json ? JSON.parse(text) : text }
}

const upper = (id: string) => id.toUpperCase()
const BAD_FORMS = (id: string) => [`urn:uuid:${id}`, `URN:UUID:${upper(id)}`, `{${id}}`, `${id}0`, id.replaceAll('-', ''), 'not-a-uuid', `${id.slice(0, 35)}g`]

tap.test('every id-taking route: prefixed or malformed ids are 400, upper-case ids work as lower-case', async (t) => {
  const { baseUrl } = await startApp(t)
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  const carol = await registerUser(baseUrl)
  await addContact(alice, bob)
  const as = (user: TestUser) => (method: string, path: string, body?: unknown) => call(baseUrl, user, method, path, body)
  const a = as(alice)
  const b = as(bob)

  const sent = await b('POST', `/conversations/${upper(alice.id)}/messages`, { content: 'hi' })
  t.equal(sent.status, 201, 'a send to an upper-case peer id is a send to that peer (not USER_NOT_FOUND)')
  t.equal(sent.body.receiverId, alice.id, 'ids come back in lower case')
  const messageId: string = sent.body.id

  const chosen = randomUUID()
  const own = await a('POST', `/conversations/${bob.id}/messages`, { id: upper(chosen), content: 'chosen id' })
  t.equal(own.status, 201)
  t.equal(own.body.id, chosen, 'a client-chosen id is stored in lower case')
  const retry = await a('POST', `/conversations/${bob.id}/messages`, { id: chosen, content: 'chosen id' })
  t.equal(retry.status, 200, 'the same id in another case is the same message (idempotent retry)')

  const file = await upload(baseUrl, bob.token, `/conversations/${upper(alice.id)}/files`, { bytes: Buffer.from('bytes'), name: 'a.txt', id: upper(randomUUID()) })
  t.equal(file.status, 201)
  t.match(file.body.id, /^[0-9a-f-]{36}$/)
  const fileId: string = file.body.file.id
  const image = await upload(baseUrl, bob.token, `/conversations/${upper(alice.id)}/images`, { bytes: PNG, name: 'a.png' })
  t.equal(image.status, 201)

  t.match(await a('GET', `/users/${upper(bob.id)}`), { status: 200, body: { id: bob.id } })
  t.match(await a('GET', `/conversations/${upper(bob.id)}/messages?before=${upper(own.body.id)}`), { status: 200, body: { messages: [{ id: messageId }] } })
  t.match(await a('GET', `/files/${upper(fileId)}`), { status: 200 })
  t.match(await a('POST', `/messages/${upper(messageId)}/read`), { status: 200, body: { id: messageId } })
  t.match(await a('POST', `/conversations/${upper(bob.id)}/read`, { upTo: upper(file.body.id) }), { status: 200, body: { messageIds: [file.body.id] } })
  t.match(await a('POST', '/contacts', { userId: upper(carol.id) }), { status: 201, body: { contactId: carol.id } })
  t.match(await a('POST', '/contacts', { userId: carol.id }), { status: 409, body: { code: 'CONTACT_EXISTS' } }, 'the same contact in either case')
  t.equal((await a('DELETE', `/contacts/${upper(carol.id)}`)).status, 204)
  t.equal((await a('DELETE', `/conversations/${upper(bob.id)}/messages`)).status, 204)

  const routes: Array<[string, (id: string) => [string, string, unknown?]]> = [
    ['GET /users/{id}', (id) => ['GET', `/users/${id}`]],
    ['GET /conversations/{peerId}/messages', (id) => ['GET', `/conversations/${id}/messages`]],
    ['GET /conversations/{peerId}/messages?before', (id) => ['GET', `/conversations/${bob.id}/messages?before=${id}`]],
    ['POST /conversations/{peerId}/messages', (id) => ['POST', `/conversations/${id}/messages`, { content: 'x' }]],
    ['POST /conversations/{peerId}/messages {id}', (id) => ['POST', `/conversations/${bob.id}/messages`, { id, content: 'x' }]],
    ['DELETE /conversations/{peerId}/messages', (id) => ['DELETE', `/conversations/${id}/messages`]],
    ['POST /conversations/{peerId}/read', (id) => ['POST', `/conversations/${id}/read`, { upTo: messageId }]],
    ['POST /conversations/{peerId}/read {upTo}', (id) => ['POST', `/conversations/${bob.id}/read`, { upTo: id }]],
    ['POST /messages/{messageId}/read', (id) => ['POST', `/messages/${id}/read`]],
    ['POST /contacts {userId}', (id) => ['POST', '/contacts', { userId: id }]],
    ['DELETE /contacts/{contactId}', (id) => ['DELETE', `/contacts/${id}`]],
    ['GET /files/{fileId}', (id) => ['GET', `/files/${id}`]]
  ]
  for (const [name, build] of routes) {
    for (const bad of BAD_FORMS(bob.id)) {
      const [method, path, body] = build(encodeURIComponent(bad))
      const answer = await a(method, path, body === undefined ? undefined : JSON.parse(JSON.stringify(body).replaceAll(encodeURIComponent(bad), bad)))
      t.equal(answer.status, 400, `${name} with ${bad}: 400`)
      t.match(answer.body, { statusCode: 400, code: 'VALIDATION_ERROR', message: /canonical form|UUID/ }, `${name} with ${bad}: names the rule`)
    }
  }
  for (const bad of BAD_FORMS(bob.id)) {
    const form = await upload(baseUrl, alice.token, `/conversations/${bob.id}/files`, { bytes: Buffer.from('x'), id: bad })
    t.match(form, { status: 400, body: { code: 'VALIDATION_ERROR', message: /body\/id/ } }, `multipart id ${bad}: 400`)
  }
})

tap.test('a text send with a prefixed id is refused alone: concurrent sends in the same batch still succeed', async (t) => {
  const { baseUrl } = await startApp(t)
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  await addContact(alice, bob)
  const sends = await Promise.all(Array.from({ length: 20 }, (_, i) => call(baseUrl, alice, 'POST', `/conversations/${bob.id}/messages`,
    i === 7 ? { id: `urn:uuid:${randomUUID()}`, content: 'bad' } : { content: `m${i}` })))
  t.same(sends.map((answer) => answer.status), sends.map((_, i) => i === 7 ? 400 : 201))
})
