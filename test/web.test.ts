// Serving the web client: index.html revalidated, hashed assets immutable, under the server's strict CSP;
// API routes, /docs and JSON 404s untouched; without a build, `/` says how to make one and the server still starts.
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import t from 'tap'
import errorsPlugin from '../src/plugins/errors.ts'
import webPlugin, { WEB_ROOT } from '../src/plugins/web.ts'
import { startApp } from './helpers/app.ts'
import { ensureWebBuilt } from './helpers/web.ts'

await ensureWebBuilt()
const { baseUrl } = await startApp(t)

t.test('GET / is the app, revalidated on every load, under a CSP without inline scripts', async (t) => {
  const response = await fetch(`${baseUrl}/`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/html/)
  t.equal(response.headers.get('cache-control'), 'no-cache')
  const csp = response.headers.get('content-security-policy') ?? ''
  t.match(csp, /script-src 'self'(;|$)/, 'scripts only from this origin')
  const html = await response.text()
  t.notMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script')
  t.match(html, /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/)
})

t.test('a range past the end of a client file is 416 RANGE_NOT_SATISFIABLE in the error shape', async (t) => {
  for (const range of ['bytes=999999-', 'bytes=999999-1000000']) {
    const response = await fetch(`${baseUrl}/`, { headers: { range } })
    t.equal(response.status, 416, range)
    t.match(await response.json(), { statusCode: 416, code: 'RANGE_NOT_SATISFIABLE', error: 'Range Not Satisfiable', message: String })
  }
})

t.test('hashed assets are cached for good', async (t) => {
  const assets = readdirSync(join(WEB_ROOT, 'assets'))
  t.ok(assets.some((name) => name.endsWith('.js')) && assets.some((name) => name.endsWith('.css')))
  for (const name of assets) {
    const response = await fetch(`${baseUrl}/assets/${name}`)
    t.equal(response.status, 200, name)
    t.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable', name)
    await response.arrayBuffer()
  }
})

t.test('documents (the client, its assets, Swagger UI) get helmet\'s whole set of security headers', async (t) => {
  const asset = readdirSync(join(WEB_ROOT, 'assets'))[0]!
  for (const path of ['/', `/assets/${asset}`, '/docs', '/docs/static/index.html']) {
    const response = await fetch(`${baseUrl}${path}`)
    t.equal(response.status, 200, path)
    await response.arrayBuffer()
    const headers = response.headers
    t.match(headers.get('content-security-policy'), /default-src 'self'/, `${path}: its own policy`)
    t.equal(headers.get('x-frame-options'), 'SAMEORIGIN', path)
    t.equal(headers.get('cross-origin-opener-policy'), 'same-origin', path)
    t.equal(headers.get('origin-agent-cluster'), '?1', path)
    t.equal(headers.get('x-content-type-options'), 'nosniff', path)
    t.equal(headers.get('referrer-policy'), 'no-referrer', path)
    t.equal(headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains', path)
    t.equal(headers.get('x-powered-by'), null, path)
  }
})

t.test('API routes, docs and 404s are not shadowed', async (t) => {
  const me = await fetch(`${baseUrl}/users/me`)
  t.equal(me.status, 401, 'an API route answers as before')
  t.match(await me.json(), { code: 'AUTH_REQUIRED' })
  for (const path of ['/nope', '/assets/missing.js', '/users/me/nope']) {
    const response = await fetch(`${baseUrl}${path}`)
    t.equal(response.status, 404, path)
    t.match(await response.json(), { statusCode: 404, code: 'ROUTE_NOT_FOUND', error: 'Not Found' }, `${path}: the JSON error shape`)
  }
  const docs = await fetch(`${baseUrl}/docs`)
  t.equal(docs.status, 200)
  await docs.text()
  const document = await (await fetch(`${baseUrl}/openapi.json`)).json() as { paths: Record<string, unknown> }
  t.notOk(Object.keys(document.paths).some((path) => path === '/' || path.startsWith('/assets') || path.endsWith('.html')), 'the client is not in the API document')
})

t.test('without a build, / says to run the build, and the server starts', async (t) => {
  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(errorsPlugin)
  await app.register(webPlugin, { root: mkdtempSync(join(tmpdir(), 'chat-web-empty-')) })
  const response = await app.inject({ method: 'GET', url: '/' })
  t.equal(response.statusCode, 404)
  t.match(response.json(), { code: 'ROUTE_NOT_FOUND', message: /npm run build:web/ })
})
