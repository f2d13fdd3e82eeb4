// Rate limits: the auth budgets per client address (from X-Forwarded-For only under TRUST_PROXY) and per target
// username, the RateLimit-* headers and 429 with Retry-After.
import { randomUUID } from 'node:crypto'
import tap from 'tap'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, uniqueName } from './helpers/client.ts'
import { openStream } from './helpers/sse.ts'
import { upload } from './helpers/upload.ts'

interface Answer { status: number, headers: Headers, body: any }

async function post (baseUrl: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } })
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) }
}

tap.test('without TRUST_PROXY, X-Forwarded-For is ignored: every client behind the socket address shares its budget', async (t) => {
  const { baseUrl } = await startApp(t, { rateLimitAuthPerMinute: 2 })
  const login = (address: string) => post(baseUrl, '/auth/login', { username: uniqueName(), password: 'wrong password' }, { 'x-forwarded-for': address })
  t.equal((await login('203.0.113.1')).status, 401)
  t.equal((await login('203.0.113.2')).status, 401)
  const third = await login('203.0.113.3')
  t.equal(third.status, 429, 'a forged X-Forwarded-For does not buy a new budget')
  t.match(third.body, { statusCode: 429, code: 'RATE_LIMITED' })
})

tap.test('with TRUST_PROXY, each forwarded client has its own budget, and a username has one across addresses', async (t) => {
  const { baseUrl } = await startApp(t, { rateLimitAuthPerMinute: 3, trustProxy: ['127.0.0.1'] })
  const target = await registerUser(baseUrl, { username: uniqueName('target') })
  const guess = (address: string, username = target.username) => post(baseUrl, '/auth/login', { username, password: 'wrong password' }, { 'x-forwarded-for': address })

  const first = await guess('198.51.100.1')
  t.equal(first.status, 401)
  t.equal(first.headers.get('ratelimit-limit'), '3', 'RateLimit-Limit')
  t.equal(first.headers.get('ratelimit-remaining'), '2', 'RateLimit-Remaining')
  t.ok(Number(first.headers.get('ratelimit-reset')) > 0, 'RateLimit-Reset')
  t.equal((await guess('198.51.100.2')).status, 401)
  t.equal((await guess('198.51.100.3')).status, 401)
  const spread = await guess('198.51.100.4')
  t.equal(spread.status, 429, 'guesses spread over many addresses still exhaust the username\'s budget')
  t.ok(Number(spread.headers.get('retry-after')) > 0, 'Retry-After')
  t.equal(spread.headers.get('ratelimit-remaining'), '0')
  const upper = await guess('198.51.100.5', target.username.toUpperCase())
  t.equal(upper.status, 429, 'the username budget ignores case')

  const other = await post(baseUrl, '/auth/login', { username: uniqueName(), password: 'wrong password' }, { 'x-forwarded-for': '198.51.100.1' })
  t.equal(other.status, 401, 'another username from an address that tried once is still allowed')
  for (let i = 0; i < 2; i++) await post(baseUrl, '/auth/login', { username: uniqueName(), password: 'x' }, { 'x-forwarded-for': '198.51.100.9' })
  const address = await post(baseUrl, '/auth/login', { username: uniqueName(), password: 'x' }, { 'x-forwarded-for': '198.51.100.9' })
  t.equal(address.status, 401, 'the third attempt from one address is within its budget')
  const fourth = await post(baseUrl, '/auth/login', { username: uniqueName(), password: 'x' }, { 'x-forwarded-for': '198.51.100.9' })
  t.equal(fourth.status, 429, 'one address past its budget, whatever the usernames')

  const register = await post(baseUrl, '/auth/register', { username: uniqueName(), password: 'long enough', email: `${randomUUID()}@example.com` }, { 'x-forwarded-for': '198.51.100.20' })
  t.equal(register.status, 201)
  t.equal(register.headers.get('ratelimit-limit'), '3')
})

tap.test('wrong currentPassword guesses are limited per user and per client address: 429 with Retry-After', async (t) => {
  const { baseUrl } = await startApp(t, { rateLimitAuthPerMinute: 3, trustProxy: ['127.0.0.1'] })
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  const patch = async (user: { token: string }, body: unknown, address: string) => {
    const response = await fetch(`${baseUrl}/users/me`, { method: 'PATCH', body: JSON.stringify(body), headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}`, 'x-forwarded-for': address } })
    return { status: response.status, headers: response.headers, body: await response.json() }
  }
  const guess = (user: typeof alice, address: string) => patch(user, { password: 'a new password', currentPassword: 'a wrong guess' }, address)
  for (let i = 0; i < 3; i++) t.equal((await guess(alice, '192.0.2.1')).status, 403, `wrong guess ${i + 1}: 403`)
  const limited = await guess(alice, '192.0.2.2')
  t.equal(limited.status, 429, 'the user\'s budget holds across addresses')
  t.match(limited.body, { statusCode: 429, code: 'RATE_LIMITED' })
  t.ok(Number(limited.headers.get('retry-after')) > 0, 'Retry-After')
  const right = await patch(alice, { password: 'a new password', currentPassword: alice.password }, '192.0.2.3')
  t.equal(right.status, 429, 'even the right password waits')
  t.equal((await patch(alice, { username: uniqueName() }, '192.0.2.3')).status, 200, 'changes that need no password go on')
  t.equal((await guess(bob, '192.0.2.1')).status, 429, 'the address that guessed is limited for every user')
  t.equal((await guess(bob, '192.0.2.9')).status, 403, 'another user from another address is not')
  const fine = await patch(bob, { password: 'another new password', currentPassword: bob.password }, '192.0.2.10')
  t.equal(fine.status, 200, 'a right password is never counted as a guess')
})

tap.test('per-user budgets: every authenticated request, and a tighter one for sends; 429 with Retry-After', async (t) => {
  const { baseUrl } = await startApp(t, { rateLimitPerMinute: 9, rateLimitSendsPerMinute: 3 })
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  const carol = await registerUser(baseUrl)
  await addContact(alice, bob)
  const get = (user: typeof alice) => fetch(`${baseUrl}/users/me`, { headers: { authorization: `Bearer ${user.token}` } })
  const send = (content: string) => fetch(`${baseUrl}/conversations/${bob.id}/messages`, { method: 'POST', body: JSON.stringify({ content }), headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` } })

  const statuses: number[] = []
  for (let i = 0; i < 5; i++) {
    const answer = await send(`m${i}`)
    statuses.push(answer.status)
    if (i === 0) {
      t.equal(answer.headers.get('ratelimit-limit'), '3', 'a send reports the tighter budget')
      t.equal(answer.headers.get('ratelimit-remaining'), '2')
    }
    if (answer.status === 429) {
      t.match(await answer.json(), { statusCode: 429, code: 'RATE_LIMITED' })
      t.ok(Number(answer.headers.get('retry-after')) > 0, 'Retry-After')
    } else await answer.arrayBuffer()
  }
  t.same(statuses, [201, 201, 201, 429, 429], 'RATE_LIMIT_SENDS_PER_MINUTE sends, then 429')
  const history = await fetch(`${baseUrl}/conversations/${bob.id}/messages`, { headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(((await history.json()) as { messages: unknown[] }).messages.length, 3, 'nothing stored past the budget')

  // alice has added a contact, tried 5 sends (refused ones count too) and read once: this is her 8th request.
  const eighth = await get(alice)
  t.equal(eighth.status, 200)
  t.equal(eighth.headers.get('ratelimit-limit'), '9')
  t.equal(eighth.headers.get('ratelimit-remaining'), '1')
  t.equal((await get(alice)).status, 200)
  const over = await get(alice)
  t.equal(over.status, 429, 'RATE_LIMIT_PER_MINUTE requests, then 429')
  t.ok(Number(over.headers.get('retry-after')) > 0)
  t.equal((await get(carol)).status, 200, 'another user has a budget of their own')
})

tap.test('MAX_STREAMS_PER_USER: one more stream is 429 TOO_MANY_STREAMS; closing one frees its place', async (t) => {
  const { baseUrl } = await startApp(t, { maxStreamsPerUser: 2 })
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  const first = await openStream(t, baseUrl, { token: alice.token })
  await openStream(t, baseUrl, { token: alice.token })
  const third = await openStream(t, baseUrl, { token: alice.token })
  t.equal(third.status, 429)
  t.match(JSON.parse(third.body ?? '{}'), { statusCode: 429, code: 'TOO_MANY_STREAMS' })
  t.equal((await openStream(t, baseUrl, { token: bob.token })).status, 200, 'other users are not affected')
  first.close()
  let again = await openStream(t, baseUrl, { token: alice.token })
  for (let i = 0; again.status !== 200 && i < 50; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    again = await openStream(t, baseUrl, { token: alice.token })
  }
  t.equal(again.status, 200, 'a closed stream frees its place')
})

tap.test('STORAGE_QUOTA_BYTES: an upload past the quota is 413 QUOTA_EXCEEDED with nothing stored', async (t) => {
  const { baseUrl } = await startApp(t, { storageQuotaBytes: 1000 })
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  await addContact(alice, bob)
  const path = `/conversations/${bob.id}/files`
  t.equal((await upload(baseUrl, alice.token, path, { bytes: Buffer.alloc(600, 1), name: 'a.bin' })).status, 201)
  const over = await upload(baseUrl, alice.token, path, { bytes: Buffer.alloc(600, 2), name: 'b.bin' })
  t.equal(over.status, 413)
  t.match(over.body, { statusCode: 413, code: 'QUOTA_EXCEEDED' })
  const history = await fetch(`${baseUrl}/conversations/${bob.id}/messages`, { headers: { authorization: `Bearer ${alice.token}` } })
  t.equal(((await history.json()) as { messages: unknown[] }).messages.length, 1, 'nothing stored')
  t.equal((await upload(baseUrl, alice.token, path, { bytes: Buffer.alloc(400, 3), name: 'c.bin' })).status, 201, 'up to the quota exactly')
  t.equal((await upload(baseUrl, bob.token, `/conversations/${alice.id}/files`, { bytes: Buffer.alloc(900, 4), name: 'd.bin' })).status, 201, 'each user has a quota of their own')
})
