// /users: your profile (read, change, password change revoking other sessions) and finding other users.
import { randomBytes, randomUUID } from 'node:crypto'
import tap from 'tap'
import { startApp } from './helpers/app.ts'
import { apiClient, registerUser, uniqueName } from './helpers/client.ts'
import { recordedCount, recordResponses, responsesContaining } from './helpers/leaks.ts'
import { openStream } from './helpers/sse.ts'

recordResponses()

const NEW_PASSWORD = 'the brand new password'

function isError (t: Pick<typeof tap, 'equal' | 'match'>, result: { response: Response, error?: unknown }, status: number, code: string) {
  t.equal(result.response.status, status, `status ${status}`)
  t.match(result.error, { statusCode: status, code, error: String, message: String }, `error ${code}`)
}

tap.test('users', async (t) => {
  const { baseUrl } = await startApp(t)
  const anonymous = apiClient(baseUrl)

  t.test('GET /users/me: 200 with your account, 401 without a token', async (t) => {
    const user = await registerUser(baseUrl)
    const me = await user.api.GET('/users/me')
    t.equal(me.response.status, 200)
    t.same(Object.keys(me.data!).sort(), ['avatarUrl', 'createdAt', 'email', 'id', 'username'])
    t.match(me.data, { id: user.id, username: user.username, email: user.email, avatarUrl: null })
    t.ok(!Number.isNaN(Date.parse(me.data!.createdAt)))
    isError(t, await anonymous.GET('/users/me'), 401, 'AUTH_REQUIRED')
  })

  t.test('PATCH /users/me changes only the fields sent', async (t) => {
    const user = await registerUser(baseUrl)
    const stream = await openStream(t, baseUrl, { token: user.token })
    const username = uniqueName('renamed')
    const renamed = await user.api.PATCH('/users/me', { body: { username } })
    t.equal(renamed.response.status, 200)
    t.match(renamed.data, { id: user.id, username, email: user.email, avatarUrl: null })
    const event = await stream.waitForEvent('profile.updated')
    t.same(JSON.parse(event.data), renamed.data, 'profile.updated carries the User')
    const address = `New.${randomBytes(4).toString('hex')}@Example.org`
    const changed = await user.api.PATCH('/users/me', { body: { email: address, currentPassword: user.password } })
    t.match(changed.data, { username, email: address })
    for (const avatarUrl of ['https://cdn.example.com/a.png', `/files/${randomUUID()}`, null]) {
      const result = await user.api.PATCH('/users/me', { body: { avatarUrl } })
      t.equal(result.response.status, 200, `avatarUrl ${avatarUrl}`)
      // A /files/{id} avatar is handed out as a signed link (test/signed-links.test.ts).
      if (avatarUrl?.startsWith('/files/') === true) t.match(result.data?.avatarUrl, new RegExp(`^${avatarUrl}\\?exp=\\d+&sig=[\\w-]{43}$`))
      else t.equal(result.data?.avatarUrl, avatarUrl)
    }
    const same = await user.api.PATCH('/users/me', { body: {} })
    t.equal(same.response.status, 200, 'an empty change is a no-op')
    t.match(same.data, { username, email: address, avatarUrl: null })
    t.same((await user.api.GET('/users/me')).data, same.data)
    const recase = await user.api.PATCH('/users/me', { body: { username: username.toUpperCase() } })
    t.equal(recase.response.status, 200, 'changing only the case of your own name is allowed')
    t.equal(recase.data?.username, username.toUpperCase())
    const login = await anonymous.POST('/auth/login', { body: { username, password: user.password } })
    t.equal(login.response.status, 200, 'log in with the new name')
  })

  t.test('PATCH /users/me: changing the email needs currentPassword (403 WRONG_PASSWORD without it or with a wrong one)', async (t) => {
    const user = await registerUser(baseUrl)
    const address = `${randomBytes(4).toString('hex')}@example.net`
    isError(t, await user.api.PATCH('/users/me', { body: { email: address } }), 403, 'WRONG_PASSWORD')
    isError(t, await user.api.PATCH('/users/me', { body: { email: address, currentPassword: 'not the password' } }), 403, 'WRONG_PASSWORD')
    t.equal((await user.api.GET('/users/me')).data?.email, user.email, 'nothing changed')
    const same = await user.api.PATCH('/users/me', { body: { email: user.email, username: uniqueName() } })
    t.equal(same.response.status, 200, 'sending the unchanged email needs no password')
    const changed = await user.api.PATCH('/users/me', { body: { email: address, currentPassword: user.password } })
    t.equal(changed.data?.email, address)
  })

  t.test('a password of only whitespace is 400', async (t) => {
    const user = await registerUser(baseUrl)
    for (const password of [' '.repeat(8), '\t\n  \r\n  ', '\u00a0'.repeat(10), '\u3000'.repeat(8)]) {
      isError(t, await user.api.PATCH('/users/me', { body: { password, currentPassword: user.password } }), 400, 'VALIDATION_ERROR')
      isError(t, await anonymous.POST('/auth/register', { body: { username: uniqueName(), password, email: `${randomUUID()}@example.com` } }), 400, 'VALIDATION_ERROR')
    }
    const spaced = await anonymous.POST('/auth/register', { body: { username: uniqueName(), password: '  a  b  c  ', email: `${randomUUID()}@example.com` } })
    t.equal(spaced.response.status, 201, 'spaces around other characters are fine')
  })

  t.test('PATCH /users/me: 409 for a name or email another user has, in any case', async (t) => {
    const user = await registerUser(baseUrl)
    const other = await registerUser(baseUrl)
    isError(t, await user.api.PATCH('/users/me', { body: { username: other.username.toUpperCase() } }), 409, 'USERNAME_TAKEN')
    isError(t, await user.api.PATCH('/users/me', { body: { email: other.email.toUpperCase(), currentPassword: user.password } }), 409, 'EMAIL_TAKEN')
    isError(t, await user.api.PATCH('/users/me', { body: { username: uniqueName(), email: other.email, currentPassword: user.password } }), 409, 'EMAIL_TAKEN')
    t.match((await user.api.GET('/users/me')).data, { username: user.username, email: user.email }, 'nothing changed')
  })

  t.test('PATCH /users/me: 400 for invalid fields, naming them', async (t) => {
    const user = await registerUser(baseUrl)
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ username: 'x' }, /username/],
      [{ username: 'has space' }, /username/],
      [{ email: 'nope' }, /email/],
      [{ avatarUrl: 'javascript:alert(1)' }, /avatarUrl/],
      [{ avatarUrl: 'ftp://example.com/a.png' }, /avatarUrl/],
      [{ avatarUrl: '/files/not-an-id' }, /avatarUrl/],
      [{ avatarUrl: 42 }, /avatarUrl/],
      [{ password: 'short', currentPassword: user.password }, /password/],
      [{ id: randomUUID() }, /id/],
      [{ passwordHash: 'x' }, /passwordHash/],
      [{ createdAt: new Date().toISOString() }, /createdAt/]
    ]
    for (const [body, field] of cases) {
      const result = await user.api.PATCH('/users/me', { body: body as any })
      isError(t, result, 400, 'VALIDATION_ERROR')
      t.match((result.error as { message: string }).message, field, `${JSON.stringify(body)} names the field`)
    }
    isError(t, await anonymous.PATCH('/users/me', { body: { username: uniqueName() } }), 401, 'AUTH_REQUIRED')
  })

  t.test('changing the password needs the current one', async (t) => {
    const user = await registerUser(baseUrl)
    isError(t, await user.api.PATCH('/users/me', { body: { password: NEW_PASSWORD } }), 403, 'WRONG_PASSWORD')
    isError(t, await user.api.PATCH('/users/me', { body: { password: NEW_PASSWORD, currentPassword: 'not the password' } }), 403, 'WRONG_PASSWORD')
    isError(t, await user.api.PATCH('/users/me', { body: { password: NEW_PASSWORD, currentPassword: '' } }), 403, 'WRONG_PASSWORD')
    const login = await anonymous.POST('/auth/login', { body: { username: user.username, password: user.password } })
    t.equal(login.response.status, 200, 'the old password still works')
    t.equal((await user.api.GET('/users/me')).response.status, 200, 'no session was revoked')
  })

  t.test('a password change revokes every other session and keeps the current one', async (t) => {
    const user = await registerUser(baseUrl)
    const other = await anonymous.POST('/auth/login', { body: { username: user.username, password: user.password } })
    const otherApi = apiClient(baseUrl, other.data!.token)
    const otherStream = await openStream(t, baseUrl, { token: other.data!.token })
    const ownStream = await openStream(t, baseUrl, { token: user.token })
    const changed = await user.api.PATCH('/users/me', { body: { password: NEW_PASSWORD, currentPassword: user.password } })
    t.equal(changed.response.status, 200)
    t.same(Object.keys(changed.data!).sort(), ['avatarUrl', 'createdAt', 'email', 'id', 'username'])
    await otherStream.waitForEvent('session.revoked')
    await otherStream.ended
    isError(t, await otherApi.GET('/users/me'), 401, 'TOKEN_INVALID')
    isError(t, await anonymous.POST('/auth/token-login', { body: { token: other.data!.token } }), 401, 'TOKEN_INVALID')
    t.equal((await user.api.GET('/users/me')).response.status, 200, 'the current session stays')
    t.notOk(ownStream.isEnded(), 'the current session\'s stream stays open')
    t.notOk(ownStream.frames.some((frame) => frame.event === 'session.revoked'))
    isError(t, await anonymous.POST('/auth/login', { body: { username: user.username, password: user.password } }), 401, 'INVALID_CREDENTIALS')
    const login = await anonymous.POST('/auth/login', { body: { username: user.username, password: NEW_PASSWORD } })
    t.equal(login.response.status, 200, 'the new password works')
  })

  t.test('GET /users?search= is a case-insensitive prefix search without yourself', async (t) => {
    const tag = `s${randomBytes(3).toString('hex')}`
    const me = await registerUser(baseUrl, { username: `${tag}_me` })
    const names = [`${tag}_Bob`, `${tag}_alice`, `${tag.toUpperCase()}_Carol`, `${tag}xdave`]
    const users = []
    for (const username of names) users.push(await registerUser(baseUrl, { username }))
    await registerUser(baseUrl, { username: `zz${tag}` })
    const found = await me.api.GET('/users', { params: { query: { search: tag.toUpperCase() } } })
    t.equal(found.response.status, 200)
    t.same(found.data!.users.map((u) => u.username), [`${tag}_alice`, `${tag}_Bob`, `${tag.toUpperCase()}_Carol`, `${tag}xdave`], 'ordered by username, self excluded, prefix only')
    for (const user of found.data!.users) {
      t.same(Object.keys(user).sort(), ['avatarUrl', 'id', 'online', 'username'], 'public shape: no email')
      t.equal(user.online, false)
    }
    const underscore = await me.api.GET('/users', { params: { query: { search: `${tag}_` } } })
    t.same(underscore.data!.users.map((u) => u.username), [`${tag}_alice`, `${tag}_Bob`, `${tag.toUpperCase()}_Carol`], '"_" is literal, not a wildcard')
    const percent = await me.api.GET('/users', { params: { query: { search: '%' } } })
    t.same(percent.data!.users, [], '"%" is literal')
    const limited = await me.api.GET('/users', { params: { query: { search: tag, limit: 2 } } })
    t.equal(limited.data!.users.length, 2)
    await openStream(t, baseUrl, { token: users[1]!.token })
    const online = await me.api.GET('/users', { params: { query: { search: `${tag}_alice` } } })
    t.equal(online.data!.users[0]?.online, true, 'live online status, as soon as the stream is ready')
    const self = await me.api.GET('/users', { params: { query: { search: `${tag}_me` } } })
    t.same(self.data!.users, [])
  })

  t.test('GET /users?search=: 400 for bad queries, 401 without a token', async (t) => {
    const user = await registerUser(baseUrl)
    for (const query of ['', '?search=', '?search=a&limit=0', '?search=a&limit=101', '?search=a&limit=abc', '?search=a&limit=1.5', `?search=${'a'.repeat(33)}`, '?search=a&extra=1']) {
      const response = await fetch(`${baseUrl}/users${query}`, { headers: { authorization: `Bearer ${user.token}` } })
      t.equal(response.status, 400, query)
      t.match(await response.json(), { statusCode: 400, code: 'VALIDATION_ERROR', message: /querystring/ })
    }
    isError(t, await anonymous.GET('/users', { params: { query: { search: 'a' } } }), 401, 'AUTH_REQUIRED')
  })

  t.test('GET /users/{id}: 200 public profile, 404 unknown, 400 not a UUID', async (t) => {
    const user = await registerUser(baseUrl)
    const other = await registerUser(baseUrl)
    const found = await user.api.GET('/users/{id}', { params: { path: { id: other.id } } })
    t.equal(found.response.status, 200)
    t.same(found.data, { id: other.id, username: other.username, avatarUrl: null, online: false })
    isError(t, await user.api.GET('/users/{id}', { params: { path: { id: randomUUID() } } }), 404, 'USER_NOT_FOUND')
    for (const id of ['not-a-uuid', '123', `${randomUUID()}x`, 'me2']) {
      const result = await user.api.GET('/users/{id}', { params: { path: { id } } })
      isError(t, result, 400, 'VALIDATION_ERROR')
      t.match((result.error as { message: string }).message, /id/)
    }
    isError(t, await anonymous.GET('/users/{id}', { params: { path: { id: other.id } } }), 401, 'AUTH_REQUIRED')
  })

  t.test('no response contained a password or a hash', async (t) => {
    t.ok(recordedCount() > 40)
    t.same(responsesContaining(['correct horse battery', NEW_PASSWORD, '$argon2']), [])
  })
})

tap.test('avatarUrl: a URL parser and the canonical id decide; markup never passes; nothing answers 500', async (t) => {
  const { baseUrl } = await startApp(t)
  const user = await registerUser(baseUrl)
  const bad = [
    `/files/${'-'.repeat(36)}`, `/files/urn:uuid:${randomUUID()}`, `/files/${randomUUID()}0`,
    'https://x.example/"onerror="alert(1)', 'https://x.example/<script>', "https://x.example/'", 'https://x.example/`x`',
    'https://x.example/a\\b', 'https://[::1', 'https://', 'javascript:alert(1)', 'data:text/html,<b>', 'ftp://x.example/a.png'
  ]
  for (const avatarUrl of bad) {
    isError(t, await user.api.PATCH('/users/me', { body: { avatarUrl } }), 400, 'VALIDATION_ERROR')
  }
  const id = randomUUID()
  const ok = await user.api.PATCH('/users/me', { body: { avatarUrl: `/files/${id.toUpperCase()}` } })
  t.equal(ok.response.status, 200)
  // Handed out signed (a link that needs no token), with the id in lower case.
  t.match(ok.data?.avatarUrl, new RegExp(`^/files/${id}\\?exp=\\d+&sig=`), 'the id in a /files/ path is returned in lower case')
  const next = await user.api.PATCH('/users/me', { body: { avatarUrl: 'https://cdn.example.com/a.png' } })
  t.equal(next.response.status, 200, 'replacing an avatar that points at no stored file is fine')
  t.equal(next.data?.avatarUrl, 'https://cdn.example.com/a.png')
})
