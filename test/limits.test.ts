// Limits: the auth budgets per client address (from X-Forwarded-For only under TRUST_PROXY) and per target
// username, the RateLimit-* headers and 429 with Retry-After.
import { randomUUID } from 'node:crypto'
import tap from 'tap'
import { startApp } from './helpers/app.ts'
import { registerUser, uniqueName } from './helpers/client.ts'

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
