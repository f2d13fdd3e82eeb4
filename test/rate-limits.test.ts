// Rate limits: the auth budgets per client address (from X-Forwarded-For only under TRUST_PROXY) and per target
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
