// /auth: register, login, token login, logout; tampered tokens; case-insensitive uniqueness; concurrent registration.
import { createHmac, randomBytes, randomUUID } from 'node:crypto'
import tap from 'tap'
import { startApp, TEST_JWT_SECRET } from './helpers/app.ts'
import { apiClient, registerUser, tokenClaims, uniqueName } from './helpers/client.ts'
import { isError } from './helpers/errors.ts'
import { recordedCount, recordResponses, responsesContaining } from './helpers/leaks.ts'
import { connectSse, openStream } from './helpers/sse.ts'

recordResponses()

const b64url = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')

/** A JWT built by hand: any header, any claims, signed with any secret (or not at all). */
function craftJwt (header: object, claims: object, secret?: string): string {
  const unsigned = `${b64url(header)}.${b64url(claims)}`
  const signature = secret === undefined ? '' : createHmac('sha256', secret).update(unsigned).digest('base64url')
  return `${unsigned}.${signature}`
}

function email (): string {
  return `${randomBytes(6).toString('hex')}@example.com`
}

const PASSWORD = 'a password nobody guesses'

tap.test('auth', async (t) => {
  const { baseUrl, config } = await startApp(t)
  const anonymous = apiClient(baseUrl)
  const passwords = new Set<string>([PASSWORD])

  t.test('register answers 201 with a session whose token works', async (t) => {
    const username = uniqueName('reg')
    const address = `Mixed.Case.${randomBytes(3).toString('hex')}@Example.com`
    const before = Date.now()
    const { data, response } = await anonymous.POST('/auth/register', { body: { username, password: PASSWORD, email: address } })
    t.equal(response.status, 201)
    t.ok(data)
    t.same(Object.keys(data!).sort(), ['expiresAt', 'token', 'user'])
    t.same(Object.keys(data!.user).sort(), ['avatarUrl', 'createdAt', 'email', 'id', 'username'])
    t.equal(data!.user.username, username)
    t.equal(data!.user.email, address, 'email returned exactly as sent')
    t.equal(data!.user.avatarUrl, null)
    t.match(data!.user.id, /^[0-9a-f-]{36}$/)
    const expires = Date.parse(data!.expiresAt)
    t.ok(expires >= before + (config.tokenTtlSeconds - 60) * 1000 && expires <= Date.now() + (config.tokenTtlSeconds + 60) * 1000, 'expires after TOKEN_TTL_SECONDS')
    t.equal(tokenClaims(data!.token).exp, Math.floor(expires / 1000), 'the token expires with the session')
    t.equal(JSON.parse(Buffer.from(data!.token.split('.')[0]!, 'base64url').toString()).alg, 'HS256')
    const me = await apiClient(baseUrl, data!.token).GET('/users/me')
    t.equal(me.response.status, 200)
    t.same(me.data, data!.user)
  })

  t.test('register rejects invalid input with 400 naming the field', async (t) => {
    const valid = { username: uniqueName('inv'), password: PASSWORD, email: email() }
    const cases: Array<[string, Record<string, unknown>, RegExp]> = [
      ['username too short', { ...valid, username: 'a' }, /username/],
      ['username too long', { ...valid, username: 'a'.repeat(33) }, /username/],
      ['username with a space', { ...valid, username: 'two words' }, /username/],
      ['username with a slash', { ...valid, username: 'a/b' }, /username/],
      ['username with an emoji', { ...valid, username: 'smile😀' }, /username/],
      ['password too short', { ...valid, password: 'short12' }, /password/],
      ['password too long', { ...valid, password: 'x'.repeat(257) }, /password/],
      ['email without @', { ...valid, email: 'not-an-email' }, /email/],
      ['email not a string', { ...valid, email: 42 }, /email/],
      ['username missing', { password: PASSWORD, email: email() }, /username/],
      ['password missing', { username: uniqueName(), email: email() }, /password/],
      ['email missing', { username: uniqueName(), password: PASSWORD }, /email/],
      ['unknown property', { ...valid, isAdmin: true }, /isAdmin/],
      ['null username', { ...valid, username: null }, /username/]
    ]
    for (const [name, body, field] of cases) {
      const result = await anonymous.POST('/auth/register', { body: body as any })
      isError(t, result, 400, 'VALIDATION_ERROR')
      t.match((result.error as { message: string }).message, field, `${name}: message names the field`)
    }
    const list = await apiClient(baseUrl, (await registerUser(baseUrl)).token).GET('/users', { params: { query: { search: valid.username } } })
    t.same(list.data?.users, [], 'nothing was stored')
  })

  t.test('usernames and emails are unique without regard to case', async (t) => {
    const base = `Case_${randomBytes(4).toString('hex')}`
    const address = `${randomBytes(5).toString('hex')}@example.com`
    const first = await anonymous.POST('/auth/register', { body: { username: base, password: PASSWORD, email: address } })
    t.equal(first.response.status, 201)
    isError(t, await anonymous.POST('/auth/register', { body: { username: base.toLowerCase(), password: PASSWORD, email: email() } }), 409, 'USERNAME_TAKEN')
    isError(t, await anonymous.POST('/auth/register', { body: { username: base.toUpperCase(), password: PASSWORD, email: email() } }), 409, 'USERNAME_TAKEN')
    isError(t, await anonymous.POST('/auth/register', { body: { username: uniqueName(), password: PASSWORD, email: address.toUpperCase() } }), 409, 'EMAIL_TAKEN')
    isError(t, await anonymous.POST('/auth/register', { body: { username: uniqueName(), password: PASSWORD, email: address } }), 409, 'EMAIL_TAKEN')
    // Not only ASCII: the database's lower() must fold these too.
    const tag = randomBytes(2).toString('hex')
    for (const [upper, lower] of [[`Ölaf${tag}`, `ölaf${tag}`], [`Дима${tag}`, `дима${tag}`], [`ΣΟΦΙΑ${tag}`, `σοφια${tag}`]]) {
      t.equal((await anonymous.POST('/auth/register', { body: { username: upper!, password: PASSWORD, email: email() } })).response.status, 201)
      isError(t, await anonymous.POST('/auth/register', { body: { username: lower!, password: PASSWORD, email: email() } }), 409, 'USERNAME_TAKEN')
    }
  })

  t.test('a Unicode username such as 张三 registers, logs in and is found', async (t) => {
    const suffix = randomBytes(2).toString('hex')
    const username = `张三${suffix}`
    const user = await registerUser(baseUrl, { username, password: PASSWORD })
    const login = await anonymous.POST('/auth/login', { body: { username, password: PASSWORD } })
    t.equal(login.response.status, 200)
    t.equal(login.data?.user.username, username)
    const other = await registerUser(baseUrl)
    const found = await other.api.GET('/users', { params: { query: { search: '张三' } } })
    t.ok(found.data?.users.some((u) => u.id === user.id && u.username === username))
    // Lengths count code points: 32 CJK characters are allowed, 33 are not.
    const long = await anonymous.POST('/auth/register', { body: { username: '张'.repeat(32), password: PASSWORD, email: email() } })
    t.equal(long.response.status, 201)
    isError(t, await anonymous.POST('/auth/register', { body: { username: '张'.repeat(33), password: PASSWORD, email: email() } }), 400, 'VALIDATION_ERROR')
    // Stored exactly as sent: no Unicode normalization ("é" composed vs decomposed are different names).
    const composed = `caf\u00e9${suffix}`
    const decomposed = `cafe\u0301${suffix}`
    const c = await anonymous.POST('/auth/register', { body: { username: composed, password: PASSWORD, email: email() } })
    t.equal(c.data?.user.username, composed)
    const d = await anonymous.POST('/auth/register', { body: { username: decomposed, password: PASSWORD, email: email() } })
    t.equal(d.response.status, 201)
    t.equal(d.data?.user.username, decomposed)
    const hindi = await anonymous.POST('/auth/register', { body: { username: `राम${suffix}`, password: PASSWORD, email: email() } })
    t.equal(hindi.response.status, 201, 'letters with combining vowel signs')
    isError(t, await anonymous.POST('/auth/register', { body: { username: `\u0301ab${suffix}`, password: PASSWORD, email: email() } }), 400, 'VALIDATION_ERROR')
  })

  t.test('concurrent registrations of one name: exactly one 201, the rest 409', async (t) => {
    const name = uniqueName('race')
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => anonymous.POST('/auth/register', {
      body: { username: i % 2 === 0 ? name : name.toUpperCase(), password: PASSWORD, email: email() }
    })))
    const statuses = results.map((r) => r.response.status)
    t.equal(statuses.filter((s) => s === 201).length, 1, `one 201 among ${statuses.join(',')}`)
    t.equal(statuses.filter((s) => s === 409).length, 9)
    for (const r of results.filter((r) => r.response.status === 409)) t.equal((r.error as { code: string }).code, 'USERNAME_TAKEN')
    const address = email()
    const byEmail = await Promise.all(Array.from({ length: 10 }, () => anonymous.POST('/auth/register', {
      body: { username: uniqueName('race'), password: PASSWORD, email: address }
    })))
    t.same(byEmail.map((r) => r.response.status).sort(), [201, ...Array(9).fill(409)])
    for (const r of byEmail.filter((r) => r.response.status === 409)) t.equal((r.error as { code: string }).code, 'EMAIL_TAKEN')
  })

  t.test('login: 200 with a new session; 401 INVALID_CREDENTIALS, the same for unknown users', async (t) => {
    const user = await registerUser(baseUrl, { password: PASSWORD })
    const login = await anonymous.POST('/auth/login', { body: { username: user.username, password: PASSWORD } })
    t.equal(login.response.status, 200)
    t.equal(login.data?.user.id, user.id)
    t.not(tokenClaims(login.data!.token).sid, tokenClaims(user.token).sid, 'a new session')
    const caseless = await anonymous.POST('/auth/login', { body: { username: user.username.toUpperCase(), password: PASSWORD } })
    t.equal(caseless.response.status, 200, 'username matched without regard to case')
    const wrong = await anonymous.POST('/auth/login', { body: { username: user.username, password: 'not the password' } })
    isError(t, wrong, 401, 'INVALID_CREDENTIALS')
    const unknown = await anonymous.POST('/auth/login', { body: { username: uniqueName('ghost'), password: PASSWORD } })
    isError(t, unknown, 401, 'INVALID_CREDENTIALS')
    t.same(unknown.error, wrong.error, 'unknown user and wrong password get the same answer')
    isError(t, await anonymous.POST('/auth/login', { body: { username: user.username, password: PASSWORD.toUpperCase() } }), 401, 'INVALID_CREDENTIALS')
    isError(t, await anonymous.POST('/auth/login', { body: { username: user.username } as any }), 400, 'VALIDATION_ERROR')
    isError(t, await anonymous.POST('/auth/login', { body: { username: user.username, password: PASSWORD, extra: 1 } as any }), 400, 'VALIDATION_ERROR')
  })

  t.test('token login renews the token of the same session', async (t) => {
    const user = await registerUser(baseUrl)
    const renewed = await anonymous.POST('/auth/token-login', { body: { token: user.token } })
    t.equal(renewed.response.status, 200)
    t.equal(renewed.data?.user.id, user.id)
    t.equal(tokenClaims(renewed.data!.token).sid, tokenClaims(user.token).sid, 'same session')
    t.ok(Date.parse(renewed.data!.expiresAt) >= tokenClaims(user.token).exp * 1000, 'expiry renewed')
    t.equal((await apiClient(baseUrl, renewed.data!.token).GET('/users/me')).response.status, 200)
    t.equal((await user.api.GET('/users/me')).response.status, 200, 'the old token keeps working')
    // Logging out with the renewed token ends the session, so the original token stops too.
    t.equal((await apiClient(baseUrl, renewed.data!.token).POST('/auth/logout')).response.status, 204)
    isError(t, await user.api.GET('/users/me'), 401, 'TOKEN_INVALID')
    isError(t, await anonymous.POST('/auth/token-login', { body: { token: user.token } }), 401, 'TOKEN_INVALID')
    isError(t, await anonymous.POST('/auth/token-login', { body: { token: 'garbage' } }), 401, 'TOKEN_INVALID')
    isError(t, await anonymous.POST('/auth/token-login', { body: { token: '' } }), 400, 'VALIDATION_ERROR')
    isError(t, await anonymous.POST('/auth/token-login', { body: {} as any }), 400, 'VALIDATION_ERROR')
  })

  t.test('logout: 204, then the token is refused and the session\'s streams are closed', async (t) => {
    const user = await registerUser(baseUrl)
    const second = await anonymous.POST('/auth/login', { body: { username: user.username, password: user.password } })
    const stream = await openStream(t, baseUrl, { token: user.token })
    const out = await user.api.POST('/auth/logout')
    t.equal(out.response.status, 204)
    t.equal(await out.response.text(), '')
    await stream.waitForEvent('session.revoked')
    await stream.ended
    isError(t, await user.api.GET('/users/me'), 401, 'TOKEN_INVALID')
    isError(t, await user.api.POST('/auth/logout'), 401, 'TOKEN_INVALID')
    const refused = await connectSse(baseUrl, { token: user.token })
    t.equal(refused.status, 401, 'a new stream with the token is refused')
    t.equal((await apiClient(baseUrl, second.data!.token).GET('/users/me')).response.status, 200, 'other sessions stay')
    isError(t, await anonymous.POST('/auth/logout'), 401, 'AUTH_REQUIRED')
  })

  t.test('tampered tokens are refused', async (t) => {
    const user = await registerUser(baseUrl)
    const { sub, sid, exp } = tokenClaims(user.token)
    const [header, payload, signature] = user.token.split('.') as [string, string, string]
    const now = Math.floor(Date.now() / 1000)
    const tokens: Record<string, string> = {
      garbage: 'garbage',
      'three garbage parts': 'a.b.c',
      'alg none': craftJwt({ alg: 'none', typ: 'JWT' }, { sub, sid, exp }),
      'alg none with the original signature': `${b64url({ alg: 'none', typ: 'JWT' })}.${payload}.${signature}`,
      'signed with another secret': craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub, sid, exp }, 'another-secret-that-is-long-enough-0123'),
      expired: craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub, sid, exp: now - 60, iat: now - 120 }, TEST_JWT_SECRET),
      'claims changed, signature kept': `${header}.${b64url({ sub: randomUUID(), sid, exp })}.${signature}`,
      'signature flipped': `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`,
      'HS512 with the right secret': (() => {
        const unsigned = `${b64url({ alg: 'HS512', typ: 'JWT' })}.${b64url({ sub, sid, exp })}`
        return `${unsigned}.${createHmac('sha512', TEST_JWT_SECRET).update(unsigned).digest('base64url')}`
      })(),
      'valid signature, unknown session': craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub, sid: randomUUID(), exp }, TEST_JWT_SECRET),
      'valid signature, session of another user': craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub: randomUUID(), sid, exp }, TEST_JWT_SECRET),
      'valid signature, session id not a uuid': craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub, sid: 'not-a-uuid', exp }, TEST_JWT_SECRET),
      'valid signature, no session': craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub, exp }, TEST_JWT_SECRET),
      'valid signature, no expiry': craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub, sid }, TEST_JWT_SECRET),
      'valid signature, claims of the wrong type': craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub: 1, sid: [sid], exp }, TEST_JWT_SECRET)
    }
    for (const [name, token] of Object.entries(tokens)) {
      const me = await apiClient(baseUrl, token).GET('/users/me')
      t.equal(me.response.status, 401, `${name}: GET /users/me is 401`)
      t.match(me.error, { statusCode: 401, code: 'TOKEN_INVALID' })
      const renew = await anonymous.POST('/auth/token-login', { body: { token } })
      t.equal(renew.response.status, 401, `${name}: token-login is 401`)
    }
    // The untampered token still works, so the refusals above are about the tampering.
    t.equal((await user.api.GET('/users/me')).response.status, 200)
    const forged = craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub, sid, exp: now + 3600 }, TEST_JWT_SECRET)
    t.equal((await apiClient(baseUrl, forged).GET('/users/me')).response.status, 200, 'a correctly signed token for a live session is accepted')
  })

  t.test('a verified token is kept only until its expiry, and only that exact token', async (t) => {
    const user = await registerUser(baseUrl)
    const { sub, sid } = tokenClaims(user.token)
    const exp = Math.floor(Date.now() / 1000) + 2
    const shortLived = craftJwt({ alg: 'HS256', typ: 'JWT' }, { sub, sid, exp }, TEST_JWT_SECRET)
    t.equal((await apiClient(baseUrl, shortLived).GET('/users/me')).response.status, 200, 'accepted before its expiry')
    const [header, payload, signature] = shortLived.split('.') as [string, string, string]
    const flipped = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`
    t.equal((await apiClient(baseUrl, flipped).GET('/users/me')).response.status, 401, 'its signature changed: refused while it is known')
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50))
    const late = await apiClient(baseUrl, shortLived).GET('/users/me')
    t.equal(late.response.status, 401, 'refused once expired, though its session is live')
    t.match(late.error, { code: 'TOKEN_INVALID' })
    t.equal((await user.api.GET('/users/me')).response.status, 200, 'the session is live')
  })

  t.test('the Authorization header must be a bearer token', async (t) => {
    const user = await registerUser(baseUrl)
    for (const header of [`Basic ${user.token}`, 'Bearer', 'Bearer ', `Bearer ${user.token} extra`, user.token, '']) {
      const response = await fetch(`${baseUrl}/users/me`, { headers: { authorization: header } })
      t.equal(response.status, 401, JSON.stringify(header.slice(0, 12)))
      t.match(await response.json(), { statusCode: 401, code: /^(AUTH_REQUIRED|TOKEN_INVALID)$/ })
    }
    const lower = await fetch(`${baseUrl}/users/me`, { headers: { authorization: `bearer ${user.token}` } })
    t.equal(lower.status, 200, 'the scheme is case-insensitive (RFC 7235)')
    const query = await fetch(`${baseUrl}/users/me?access_token=${user.token}`)
    t.equal(query.status, 401, 'the query token is only for GET /events')
  })

  t.test('no response contained a password or a hash', async (t) => {
    t.ok(recordedCount() > 50)
    t.same(responsesContaining([...passwords, 'correct horse battery', '$argon2']), [])
  })
})
