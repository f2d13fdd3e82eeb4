// The OpenAPI document: served at /openapi.json exactly as committed in openapi/openapi.json, complete for every
// operation (operationId, summary, tags, security, every response with a schema); Swagger UI at /docs.
import { readFileSync } from 'node:fs'
import tap from 'tap'
import { startApp } from './helpers/app.ts'

const committed = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8'))
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']
const NO_BODY = new Set(['204', '304'])

tap.test('openapi', async (t) => {
  const { baseUrl } = await startApp(t)

  const response = await fetch(`${baseUrl}/openapi.json`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^application\/json/)
  const served = await response.json() as any

  t.test('the served document is the committed one (run `npm run openapi` after changing routes)', async (t) => {
    t.same(served, committed)
  })

  t.test('every operation is complete', async (t) => {
    const declaredTags = new Set<string>(served.tags.map((tag: { name: string }) => tag.name))
    const schemes = Object.keys(served.components.securitySchemes)
    const operationIds = new Set<string>()
    let operations = 0
    for (const [path, item] of Object.entries<any>(served.paths)) {
      for (const [method, op] of Object.entries<any>(item)) {
        if (!METHODS.includes(method)) continue
        operations++
        const name = `${method.toUpperCase()} ${path}`
        t.match(op.operationId, /^[a-z][A-Za-z0-9]+$/, `${name}: operationId`)
        t.notOk(operationIds.has(op.operationId), `${name}: operationId ${op.operationId} is unique`)
        operationIds.add(op.operationId)
        t.ok(typeof op.summary === 'string' && op.summary.length > 0, `${name}: summary`)
        t.ok(Array.isArray(op.tags) && op.tags.length > 0 && op.tags.every((tag: string) => declaredTags.has(tag)), `${name}: declared tags`)
        t.ok(Array.isArray(op.security), `${name}: security stated (empty for public endpoints)`)
        const secured = op.security.length > 0
        for (const requirement of op.security) t.ok(Object.keys(requirement).every((scheme) => schemes.includes(scheme)), `${name}: known security scheme`)
        const responses = op.responses ?? {}
        t.ok(Object.keys(responses).some((status) => /^2\d\d$/.test(status)), `${name}: a success response`)
        if (secured) t.ok(responses['401'], `${name}: documents 401`)
        if (op.requestBody !== undefined) {
          t.ok(responses['400'], `${name}: a body can be invalid (400)`)
          t.ok(responses['415'], `${name}: a body can be the wrong media type (415)`)
        }
        if ((op.parameters ?? []).some((parameter: { in: string }) => parameter.in === 'path' || parameter.in === 'query')) {
          t.ok(responses['400'], `${name}: parameters can be invalid (400)`)
        }
        for (const [status, answer] of Object.entries<any>(responses)) {
          t.ok(typeof answer.description === 'string' && answer.description.length > 0, `${name} ${status}: description`)
          if (NO_BODY.has(status)) {
            t.equal(answer.content, undefined, `${name} ${status}: no body`)
            continue
          }
          const media = Object.values<any>(answer.content ?? {})
          t.ok(media.length > 0 && media.every((entry) => entry.schema !== undefined), `${name} ${status}: content with a schema`)
          if (Number(status) >= 400) {
            t.same(answer.content, { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } }, `${name} ${status}: the error shape`)
          }
        }
      }
    }
    t.ok(operations >= 13, `${operations} operations`)
    for (const id of ['register', 'login', 'tokenLogin', 'logout', 'getMe', 'updateMe', 'searchUsers', 'getUser', 'getHealth']) {
      t.ok(operationIds.has(id), `documents ${id}`)
    }
  })

  t.test('the document describes the API, not its plumbing', async (t) => {
    t.equal(served.openapi, '3.1.0')
    t.match(served.info, { title: String, version: String })
    t.notOk(served.paths['/openapi.json'], '/openapi.json itself is not an operation')
    t.notOk(Object.keys(served.paths).some((path) => path.startsWith('/docs')), 'Swagger UI routes are hidden')
    const text = JSON.stringify(served)
    t.notMatch(text, /passwordHash|password_hash/, 'no hash field anywhere')
    const user = served.components.schemas.User
    t.same(Object.keys(user.properties).sort(), ['avatarUrl', 'createdAt', 'email', 'id', 'username'])
  })

  t.test('Swagger UI is served at /docs', async (t) => {
    const docs = await fetch(`${baseUrl}/docs`)
    t.equal(docs.status, 200)
    t.match(docs.headers.get('content-type'), /text\/html/)
    t.match(await docs.text(), /swagger/i)
  })

  t.test('without CORS_ORIGINS no origin gets cross-origin access', async (t) => {
    const answer = await fetch(`${baseUrl}/health`, { headers: { origin: 'https://a.example' } })
    t.equal(answer.status, 200)
    t.equal(answer.headers.get('access-control-allow-origin'), null)
    t.equal(answer.headers.get('cross-origin-resource-policy'), 'same-origin', 'nor may pages of other origins embed its answers')
    const preflight = await fetch(`${baseUrl}/auth/login`, { method: 'OPTIONS', headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } })
    t.equal(preflight.headers.get('access-control-allow-origin'), null)
    t.ok(preflight.status < 500)
  })
})
