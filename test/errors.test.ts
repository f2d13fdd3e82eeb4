// Hardening: the contract's error shape on every bad input (unknown routes, bad JSON, sizes, media types,
// NUL characters, bad ids), no 500 for anything, security headers, CORS, the auth rate limit.
import { randomUUID } from 'node:crypto'
import net from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import tap from 'tap'
import { sql } from 'drizzle-orm'
import { startApp, usingPostgres } from './helpers/app.ts'
import { addContact, registerUser, uniqueName } from './helpers/client.ts'
import { errorShape, isRawError as isError } from './helpers/errors.ts'

const ALLOWED_ORIGIN = 'https://a.example'

interface Answer {
  status: number
  headers: Headers
  body: any
  text: string
}

interface SendOptions {
  body?: RequestInit['body']
  headers?: Record<string, string>
}

async function request (baseUrl: string, method: string, path: string, options: SendOptions = {}): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, { method, body: options.body, headers: options.headers, duplex: 'half' } as RequestInit)
  const text = await response.text()
  let body: unknown
  try { body = JSON.parse(text) } catch { body = undefined }
  return { status: response.status, headers: response.headers, body, text }
}

/** Sends raw bytes (what fetch refuses to send) and answers the status and the parsed body. */
function raw (baseUrl: string, bytes: string): Promise<{ status: number, body: any }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(baseUrl).port), '127.0.0.1', () => socket.end(Buffer.from(bytes, 'latin1')))
    let data = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk) => { data += chunk })
    socket.on('close', () => {
      let body: unknown
      try { body = JSON.parse(data.slice(data.indexOf('\r\n\r\n') + 4)) } catch { body = undefined }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1]), body })
    })
    socket.on('error', reject)
  })
}

tap.test('hardening', async (t) => {
  const { baseUrl, app } = await startApp(t, { corsOrigins: [ALLOWED_ORIGIN] })
  const user = await registerUser(baseUrl)
  const auth = { authorization: `Bearer ${user.token}` }
  const send = (method: string, path: string, options?: SendOptions) => request(baseUrl, method, path, options)

  const json = (value: unknown) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json', ...auth } })

  t.test('unknown routes are 404 in the error shape', async (t) => {
    isError(t, await send('GET', '/nope'), 404, 'ROUTE_NOT_FOUND', /\/nope/)
    isError(t, await send('PUT', '/users/me', { headers: auth }), 404, 'ROUTE_NOT_FOUND')
    isError(t, await send('POST', '/health'), 404, 'ROUTE_NOT_FOUND')
    const secret = await send('GET', '/nope?access_token=abc.def.ghi')
    isError(t, secret, 404, 'ROUTE_NOT_FOUND')
    t.notMatch(secret.text, /abc\.def/, 'the query is not echoed')
  })

  t.test('an echoed name or path keeps the message within its documented 1,024 characters', async (t) => {
    const longKey = `k${'x'.repeat(5000)}`
    const unknown = await send('PATCH', '/users/me', json({ [longKey]: 1 }))
    isError(t, unknown, 400, 'VALIDATION_ERROR', /body\/kxxx/)
    t.ok(unknown.body.message.length <= 1024, `${unknown.body.message.length} characters`)
    const longPath = await send('GET', `/${'a'.repeat(5000)}`)
    isError(t, longPath, 404, 'ROUTE_NOT_FOUND', /^No route GET \/aaa/)
    t.ok(longPath.body.message.length <= 1024, `${longPath.body.message.length} characters`)
  })

  t.test('unknown body properties are 400 naming the property', async (t) => {
    isError(t, await send('PATCH', '/users/me', json({ username: uniqueName(), role: 'admin' })), 400, 'VALIDATION_ERROR', /role/)
    isError(t, await send('POST', '/auth/register', json({ username: uniqueName(), password: 'long enough', email: 'x@example.com', id: randomUUID() })), 400, 'VALIDATION_ERROR', /\bid\b/)
  })

  t.test('malformed and empty JSON bodies are 400', async (t) => {
    for (const body of ['{', '{"username": "a",}', 'not json', '{"a":1}{"b":2}', "{'a':1}", '\u0000']) {
      isError(t, await send('PATCH', '/users/me', { body, headers: { 'content-type': 'application/json', ...auth } }), 400, /^(INVALID_JSON|VALIDATION_ERROR)$/)
    }
    isError(t, await send('PATCH', '/users/me', { body: '', headers: { 'content-type': 'application/json', ...auth } }), 400, 'INVALID_JSON')
    const echoed = await send('POST', '/auth/login', { body: '{"username":"u","password":"do-not-echo-me",}', headers: { 'content-type': 'application/json' } })
    isError(t, echoed, 400, 'INVALID_JSON')
    t.notMatch(echoed.text, /do-not-echo-me/, 'the body is not echoed in the error')
  })

  t.test('JSON that is not an object is 400', async (t) => {
    for (const body of ['null', '[]', '"text"', '42', 'true', '[{"username":"x"}]']) {
      isError(t, await send('PATCH', '/users/me', { body, headers: { 'content-type': 'application/json', ...auth } }), 400, 'VALIDATION_ERROR')
    }
  })

  t.test('prototype pollution attempts are 400', async (t) => {
    for (const body of ['{"__proto__":{"isAdmin":true}}', '{"constructor":{"prototype":{"isAdmin":true}}}']) {
      const answer = await send('PATCH', '/users/me', { body, headers: { 'content-type': 'application/json', ...auth } })
      isError(t, answer, 400, /^(INVALID_JSON|VALIDATION_ERROR)$/)
    }
    t.equal(({} as Record<string, unknown>).isAdmin, undefined)
  })

  t.test('a JSON body over 1 MiB is 413, with or without Content-Length', async (t) => {
    const big = JSON.stringify({ username: 'x'.repeat(1024 * 1024 + 10) })
    isError(t, await send('PATCH', '/users/me', { body: big, headers: { 'content-type': 'application/json', ...auth } }), 413, 'PAYLOAD_TOO_LARGE')
    isError(t, await send('POST', '/auth/register', { body: big, headers: { 'content-type': 'application/json' } }), 413, 'PAYLOAD_TOO_LARGE')
    const chunks = [Buffer.from('{"username":"'), Buffer.alloc(1024 * 1024 + 10, 'y'), Buffer.from('"}')]
    const stream = new ReadableStream({
      pull (controller) {
        const next = chunks.shift()
        if (next === undefined) controller.close()
        else controller.enqueue(next)
      }
    })
    isError(t, await send('PATCH', '/users/me', { body: stream, headers: { 'content-type': 'application/json', ...auth } }), 413, 'PAYLOAD_TOO_LARGE')
    const justUnder = JSON.stringify({ username: 'x'.repeat(1024 * 1024 - 100) })
    isError(t, await send('PATCH', '/users/me', { body: justUnder, headers: { 'content-type': 'application/json', ...auth } }), 400, 'VALIDATION_ERROR', /username/)
  })

  t.test('a body in another media type is 415', async (t) => {
    const body = JSON.stringify({ username: uniqueName() })
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonx', 'image/png']) {
      isError(t, await send('PATCH', '/users/me', { body, headers: { 'content-type': type, ...auth } }), 415, 'UNSUPPORTED_MEDIA_TYPE')
    }
    isError(t, await send('POST', '/auth/login', { body: 'username=a&password=b', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'UNSUPPORTED_MEDIA_TYPE')
  })

  t.test('odd Content-Type headers never give a 500', async (t) => {
    const body = JSON.stringify({ avatarUrl: null })
    for (const type of ['application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json; foo', ';;;', 'application/json, text/plain', '*/*', '']) {
      const answer = await send('PATCH', '/users/me', { body, headers: { 'content-type': type, ...auth } })
      t.ok(answer.status === 200 || answer.status === 400 || answer.status === 415, `${JSON.stringify(type)}: ${answer.status}`)
      if (answer.status !== 200) isError(t, answer, answer.status, /^(VALIDATION_ERROR|INVALID_JSON|UNSUPPORTED_MEDIA_TYPE)$/)
    }
    const missing = await send('POST', '/auth/login', { body: new Uint8Array(Buffer.from('{"username":"a","password":"b"}')) })
    isError(t, missing, 415, 'UNSUPPORTED_MEDIA_TYPE')
  })

  t.test('a NUL character in a JSON string or a query parameter is 400 naming the field', async (t) => {
    isError(t, await send('PATCH', '/users/me', json({ username: 'a\u0000b' })), 400, 'VALIDATION_ERROR', /username/)
    isError(t, await send('PATCH', '/users/me', json({ avatarUrl: 'https://x.example/\u0000' })), 400, 'VALIDATION_ERROR', /avatarUrl/)
    isError(t, await send('POST', '/auth/login', json({ username: 'someone', password: 'pass\u0000word' })), 400, 'VALIDATION_ERROR', /password/)
    isError(t, await send('POST', '/auth/register', json({ username: uniqueName(), password: 'long enough', email: 'a\u0000@example.com' })), 400, 'VALIDATION_ERROR', /email/)
    isError(t, await send('PATCH', '/users/me', { body: '{"user\\u0000name":"x"}', headers: { 'content-type': 'application/json', ...auth } }), 400, 'VALIDATION_ERROR')
    isError(t, await send('GET', '/users?search=ab%00c', { headers: auth }), 400, 'VALIDATION_ERROR', /search/)
    isError(t, await send('GET', '/users/%00', { headers: auth }), 400, 'VALIDATION_ERROR', /id/)
  })

  t.test('an unpaired surrogate in any string is 400 naming the field (it could not be stored as sent)', async (t) => {
    isError(t, await send('POST', '/auth/login', { body: '{"username":"someone","password":"pass\\ud800word"}', headers: { 'content-type': 'application/json' } }), 400, 'VALIDATION_ERROR', /password.*Unicode/)
    isError(t, await send('PATCH', '/users/me', { body: '{"avatarUrl":"https://x.example/\\udfff"}', headers: { 'content-type': 'application/json', ...auth } }), 400, 'VALIDATION_ERROR', /avatarUrl/)
  })

  t.test('JSON bodies are validated as sent: a wrong type is 400 naming the field, nothing is coerced', async (t) => {
    const peer = await registerUser(baseUrl)
    await addContact(user, peer)
    for (const content of [123, ['x'], true, { text: 'x' }, null]) {
      isError(t, await send('POST', `/conversations/${peer.id}/messages`, json({ content })), 400, 'VALIDATION_ERROR', /content/)
    }
    isError(t, await send('POST', '/auth/register', json({ username: 12345, password: 'long enough', email: `${randomUUID()}@example.com` })), 400, 'VALIDATION_ERROR', /username/)
    isError(t, await send('POST', '/auth/login', json({ username: user.username, password: 12345678 })), 400, 'VALIDATION_ERROR', /password/)
    isError(t, await send('PATCH', '/users/me', json({ avatarUrl: false })), 400, 'VALIDATION_ERROR', /avatarUrl/)
    isError(t, await send('POST', '/contacts', json({ username: ['x'] })), 400, 'VALIDATION_ERROR', /username/)
    const history = await send('GET', `/conversations/${peer.id}/messages`, { headers: auth })
    t.same(history.body.messages, [], 'nothing was stored')
    t.equal((await send('GET', `/conversations/${peer.id}/messages?limit=5`, { headers: auth })).status, 200, 'query strings are text: limit=5 is a number')
  })

  t.test('a JSON body must be UTF-8: malformed bytes or another charset are 400, nothing stored', async (t) => {
    const peer = await registerUser(baseUrl)
    await addContact(user, peer)
    const path = `/conversations/${peer.id}/messages`
    const bytes = Buffer.concat([Buffer.from('{"content":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('b"}')])
    isError(t, await send('POST', path, { body: bytes, headers: { 'content-type': 'application/json', ...auth } }), 400, 'INVALID_JSON', /UTF-8/)
    const overlong = Buffer.concat([Buffer.from('{"content":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')])
    isError(t, await send('POST', path, { body: overlong, headers: { 'content-type': 'application/json', ...auth } }), 400, 'INVALID_JSON', /UTF-8/)
    const utf16 = Buffer.from('{"content":"hi"}', 'utf16le')
    isError(t, await send('POST', path, { body: utf16, headers: { 'content-type': 'application/json; charset=utf-16', ...auth } }), 400, 'INVALID_JSON', /UTF-8/)
    isError(t, await send('POST', path, { body: '{"content":"hi"}', headers: { 'content-type': 'application/json; charset=utf-16', ...auth } }), 400, 'INVALID_JSON', /charset/)
    t.same((await send('GET', path, { headers: auth })).body.messages, [], 'nothing was stored')
    const ok = await send('POST', path, { body: '{"content":"héllo"}', headers: { 'content-type': 'application/json; charset=UTF-8', ...auth } })
    t.equal(ok.status, 201, 'charset=UTF-8 is fine')
    t.equal(ok.body.content, 'héllo')
  })

  t.test('an empty body with content-type: application/json on an endpoint that takes no body is no body', async (t) => {
    const peer = await registerUser(baseUrl)
    await addContact(user, peer)
    const sent = await send('POST', `/conversations/${user.id}/messages`, { body: '{"content":"read me"}', headers: { 'content-type': 'application/json', authorization: `Bearer ${peer.token}` } })
    const read = await send('POST', `/messages/${sent.body.id}/read`, { body: '', headers: { 'content-type': 'application/json', ...auth } })
    t.equal(read.status, 200)
    t.equal((await send('GET', '/users/me', { body: undefined, headers: { 'content-type': 'application/json', ...auth } })).status, 200)
    t.equal((await send('DELETE', `/conversations/${peer.id}/messages`, { body: '', headers: { 'content-type': 'application/json', ...auth } })).status, 204)
    const other = await registerUser(baseUrl)
    t.equal((await send('POST', '/auth/logout', { body: '', headers: { 'content-type': 'application/json', authorization: `Bearer ${other.token}` } })).status, 204)
    isError(t, await send('POST', '/auth/login', { body: '', headers: { 'content-type': 'application/json' } }), 400, 'INVALID_JSON', /empty/)
  })

  t.test('a path id that is not a UUID is 400', async (t) => {
    for (const id of ['abc', '1', `${randomUUID()}0`, 'ZZZZZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZZZZZZZZZ', '%20']) {
      isError(t, await send('GET', `/users/${id}`, { headers: auth }), 400, 'VALIDATION_ERROR', /id/)
    }
  })

  t.test('nothing returns a 500', async (t) => {
    const type = { 'content-type': 'application/json' }
    const requests: Array<[string, string, { body?: string, headers?: Record<string, string> }?]> = [
      ['GET', '/users/%E0%A4%A', { headers: auth }],
      ['GET', '/users/%', { headers: auth }],
      ['GET', '/users?search=%E0', { headers: auth }],
      ['GET', '/users?search=%', { headers: auth }],
      ['GET', '/users?search=a&search=b', { headers: auth }],
      ['GET', '/users?search[a]=1', { headers: auth }],
      ['GET', `/users?search=${'a'.repeat(10_000)}`, { headers: auth }],
      ['GET', '/users?search=a&limit=99999999999999999999', { headers: auth }],
      ['GET', '/users?search=a&limit=-1', { headers: auth }],
      ['GET', '/users?search=\ud800', { headers: auth }],
      ['GET', '//users/me', { headers: auth }],
      ['GET', '/users/me/', { headers: auth }],
      ['GET', '/users/me?x=%00', { headers: auth }],
      ['GET', '/health?x=%00'],
      ['GET', '/events?lastEventId=abc', { headers: auth }],
      ['GET', '/events?lastEventId=-1', { headers: auth }],
      ['GET', '/events?lastEventId=99999999999999999999999', { headers: auth }],
      ['GET', '/events', { headers: { ...auth, 'last-event-id': 'abc' } }],
      ['GET', '/events', { headers: { ...auth, 'last-event-id': '99999999999999999999999' } }],
      ['GET', '/events?access_token=garbage'],
      ['GET', '/events?access_token=%00'],
      ['POST', '/auth/register', { body: '{"username":1e999,"password":"x","email":"y"}', headers: type }],
      ['POST', '/auth/register', { body: JSON.stringify({ username: '\ud800\udfff\ud800', password: 'long enough', email: 'x@example.com' }), headers: type }],
      ['POST', '/auth/register', { body: '{"username":"ab","password":"long enough","email":"\\ud800@example.com"}', headers: type }],
      ['POST', '/auth/register', { body: `{"username":"${'\\\\'.repeat(100)}","password":"long enough","email":"x@example.com"}`, headers: type }],
      ['POST', '/auth/login', { body: JSON.stringify({ username: 'x'.repeat(65), password: 'y' }), headers: type }],
      ['POST', '/auth/login', { body: JSON.stringify({ username: '\ud800', password: '\udfff' }), headers: type }],
      ['POST', '/auth/token-login', { body: JSON.stringify({ token: 'x'.repeat(5000) }), headers: type }],
      ['POST', '/auth/token-login', { body: JSON.stringify({ token: 'é.é.é' }), headers: type }],
      ['POST', '/auth/token-login', { body: JSON.stringify({ token: 'eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.x' }), headers: type }],
      ['POST', '/auth/logout', { headers: { authorization: `Bearer ${(await registerUser(baseUrl)).token}`, ...type }, body: '{"a":1}' }],
      ['POST', '/auth/logout', { headers: { authorization: 'Bearer x.y.z' } }],
      ['PATCH', '/users/me', { body: '[' + '['.repeat(50_000) + ']'.repeat(50_000) + ']', headers: { ...type, ...auth } }],
      ['PATCH', '/users/me', { body: '{"username":' + '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000) + '}', headers: { ...type, ...auth } }],
      ['PATCH', '/users/me', { body: JSON.stringify({ avatarUrl: 'https://' + 'x'.repeat(3000) }), headers: { ...type, ...auth } }],
      ['PATCH', '/users/me', { body: JSON.stringify({ currentPassword: 'x'.repeat(257), password: 'y'.repeat(10) }), headers: { ...type, ...auth } }],
      ['PATCH', '/users/me', { body: JSON.stringify({ email: `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(60)}` }), headers: { ...type, ...auth } }],
      ['DELETE', '/users/me', { headers: auth }],
      ['PUT', '/auth/login', { headers: type, body: '{}' }],
      ['OPTIONS', '/users/me'],
      ['OPTIONS', '/nope', { headers: { origin: ALLOWED_ORIGIN } }],
      ['HEAD', '/health']
    ]
    for (const [method, path, options] of requests) {
      let answer: Answer
      try {
        answer = await send(method, path, options)
      } catch (err) {
        t.fail(`${method} ${path.slice(0, 60)}: ${(err as Error).message}`)
        continue
      }
      t.ok(answer.status < 500, `${method} ${path.slice(0, 60)} ${options?.body?.slice(0, 40) ?? ''}: ${answer.status}`)
      if (answer.status >= 400 && method !== 'HEAD') {
        t.match(answer.body, errorShape(answer.status), 'error shape')
      }
    }
  })

  t.test('raw HTTP oddities get 4xx answers', async (t) => {
    const cases = [
      'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{"username":"a"}',
      'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\nConnection: close\r\n\r\n{"username":"a","password":"bbbbbbbb"}',
      'GET /users/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n',
      'POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{"\xff\xfe":"\xc0"}',
      `GET /users/${'a'.repeat(9000)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      'TRACE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'BREW /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /users/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: x\r\nX: \x01\r\nConnection: close\r\n\r\n',
      `GET /health HTTP/1.1\r\nHost: x\r\nX: ${'h'.repeat(20_000)}\r\nConnection: close\r\n\r\n`
    ]
    for (const bytes of cases) {
      const { status, body } = await raw(baseUrl, bytes)
      t.ok(status >= 400 && status < 500, `${JSON.stringify(bytes.slice(0, 50))}: ${status}`)
      t.match(body, errorShape(status), 'error shape')
    }
  })

  t.test('security headers are set on every API response: nothing may run, load or frame', async (t) => {
    for (const answer of [await send('GET', '/health'), await send('GET', '/nope'), await send('GET', '/users/me'), await send('GET', '/openapi.json')]) {
      t.equal(answer.headers.get('content-security-policy'), "default-src 'none'; frame-ancestors 'none'")
      t.equal(answer.headers.get('x-content-type-options'), 'nosniff')
      t.equal(answer.headers.get('x-frame-options'), 'DENY')
      t.equal(answer.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains')
      t.equal(answer.headers.get('referrer-policy'), 'no-referrer')
      // (This app allows a browser client on another origin: its pages may embed the files it links to.)
      t.equal(answer.headers.get('cross-origin-resource-policy'), 'cross-origin')
      t.equal(answer.headers.get('x-powered-by'), null)
      // Headers for documents only: an API answer is not rendered.
      t.equal(answer.headers.get('cross-origin-opener-policy'), null)
    }
  })

  t.test('the server closes idle connections (an idle timeout, not a total one: slow uploads that keep moving complete)', async (t) => {
    t.equal(app.server.timeout, 60_000, 'REQUEST_IDLE_TIMEOUT_SECONDS')
    t.equal(app.server.requestTimeout, 0, 'no total request timeout')
    t.ok(app.server.headersTimeout > 0, `headers still bounded (${app.server.headersTimeout} ms)`)
  })

  t.test('CORS only for the configured origins', async (t) => {
    const allowed = await send('GET', '/users/me', { headers: { ...auth, origin: ALLOWED_ORIGIN } })
    t.equal(allowed.status, 200)
    t.equal(allowed.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN)
    const other = await send('GET', '/users/me', { headers: { ...auth, origin: 'https://b.example' } })
    t.equal(other.headers.get('access-control-allow-origin'), null)
    const lookalike = await send('GET', '/users/me', { headers: { ...auth, origin: 'https://a.example.evil.com' } })
    t.equal(lookalike.headers.get('access-control-allow-origin'), null)
    const preflight = { 'access-control-request-method': 'PATCH', 'access-control-request-headers': 'authorization, content-type' }
    const ok = await send('OPTIONS', '/users/me', { headers: { ...preflight, origin: ALLOWED_ORIGIN } })
    t.ok(ok.status === 204 || ok.status === 200, `preflight ${ok.status}`)
    t.equal(ok.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN)
    t.match(ok.headers.get('access-control-allow-methods'), /PATCH/)
    t.match(ok.headers.get('access-control-allow-headers')?.toLowerCase(), /authorization/)
    const remove = await send('OPTIONS', `/contacts/${randomUUID()}`, { headers: { 'access-control-request-method': 'DELETE', origin: ALLOWED_ORIGIN } })
    t.match(remove.headers.get('access-control-allow-methods'), /DELETE/)
    t.match(allowed.headers.get('access-control-expose-headers'), /Retry-After/, 'browsers may read Retry-After')
    const refused = await send('OPTIONS', '/users/me', { headers: { ...preflight, origin: 'https://b.example' } })
    t.equal(refused.headers.get('access-control-allow-origin'), null)
    t.ok(refused.status < 500)
  })
})

tap.test('register, login and token-login are rate limited per client address: 429 with Retry-After', async (t) => {
  const { baseUrl } = await startApp(t, { rateLimitAuthPerMinute: 3 })
  const send = (method: string, path: string, options?: SendOptions) => request(baseUrl, method, path, options)
  const user = await registerUser(baseUrl)
  const type = { 'content-type': 'application/json' }
  const attempt = () => send('POST', '/auth/login', { body: JSON.stringify({ username: user.username, password: 'wrong password' }), headers: type })
  for (let i = 1; i <= 3; i++) t.equal((await attempt()).status, 401)
  const limited = await attempt()
  t.equal(limited.status, 429)
  t.match(limited.body, { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: String })
  t.same(Object.keys(limited.body).sort(), ['code', 'error', 'message', 'statusCode'])
  const retryAfter = Number(limited.headers.get('retry-after'))
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 60, `Retry-After: ${limited.headers.get('retry-after')}`)
  const right = await send('POST', '/auth/login', { body: JSON.stringify({ username: user.username, password: user.password }), headers: type })
  t.equal(right.status, 429, 'even the right password waits')
  t.equal((await send('GET', '/users/me', { headers: { authorization: `Bearer ${user.token}` } })).status, 200, 'other endpoints are not limited')
  for (let i = 1; i <= 2; i++) t.equal((await send('POST', '/auth/register', { body: JSON.stringify({ username: uniqueName(), password: 'long enough', email: `${randomUUID()}@example.com` }), headers: type })).status, 201)
  t.equal((await send('POST', '/auth/register', { body: JSON.stringify({ username: uniqueName(), password: 'long enough', email: `${randomUUID()}@example.com` }), headers: type })).status, 429, 'register: the 4th is refused')
  for (let i = 1; i <= 3; i++) t.equal((await send('POST', '/auth/token-login', { body: JSON.stringify({ token: user.token }), headers: type })).status, 200)
  t.equal((await send('POST', '/auth/token-login', { body: JSON.stringify({ token: user.token }), headers: type })).status, 429, 'token-login: the 4th is refused')
})

tap.test('GET /health: 200 while the database answers, 503 in the error shape when it does not', async (t) => {
  const { baseUrl, app, config } = await startApp(t, { healthTimeoutMs: 300 })
  const ok = await request(baseUrl, 'GET', '/health')
  t.equal(ok.status, 200)
  t.same(ok.body, { status: 'ok', bus: { kind: config.busUrl !== undefined ? 'nats' : usingPostgres ? 'postgres' : 'in-process', connected: true } })
  // Hold every database connection in an idle transaction (PGlite has one, the PostgreSQL pool ten): the
  // check cannot get an answer in time.
  let started = 0
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  const busy = Array.from({ length: usingPostgres ? 10 : 1 }, () => app.db.transaction(async (tx) => {
    await tx.execute(sql`select 1`)
    started++
    await released
  }))
  while (started < busy.length) await sleep(10)
  const down = await request(baseUrl, 'GET', '/health')
  t.equal(down.status, 503)
  t.match(down.body, { statusCode: 503, code: 'DATABASE_UNAVAILABLE', error: 'Service Unavailable', message: String })
  t.equal(down.headers.get('retry-after'), '1', 'with Retry-After')
  release()
  await Promise.all(busy)
  t.equal((await request(baseUrl, 'GET', '/health')).status, 200, 'and 200 again once it answers')
})
