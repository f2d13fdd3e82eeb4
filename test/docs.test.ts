// GET /docs: Swagger UI renders in a real browser (Chromium) under the server's Content Security Policy, with no
// console error; its CSP is its own and no wider than it needs, and the API's allows nothing.
import { existsSync } from 'node:fs'
import tap from 'tap'
import { chromium } from 'playwright-core'
import { startApp } from './helpers/app.ts'

const CHROMIUM = '/usr/bin/chromium'

tap.test('Swagger UI renders with no console error under its CSP', { skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}` }, async (t) => {
  const { baseUrl } = await startApp(t)
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
  })
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const problems: string[] = []
  page.on('console', (message) => { if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`) })
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
  const response = await page.goto(`${baseUrl}/docs`, { waitUntil: 'networkidle' })
  t.equal(response?.status(), 200)
  await page.waitForSelector('.opblock-tag', { timeout: 20000 })
  t.ok(await page.locator('text=/Chat API/').first().isVisible(), 'the document is rendered')
  await page.locator('.opblock-summary').first().click()
  await page.waitForTimeout(500)
  t.same(problems, [], 'no console error or warning')

  const docsCsp = (await fetch(`${baseUrl}/docs/static/index.html`)).headers.get('content-security-policy') ?? ''
  t.notMatch(docsCsp, /unsafe-eval/, 'no eval')
  t.notMatch(docsCsp, /script-src[^;]*unsafe-inline/, 'no inline script')
  t.notMatch(docsCsp, /https:|\*|unsafe-inline/, 'nothing from other hosts, no inline style but the one hashed')
  const apiCsp = (await fetch(`${baseUrl}/health`)).headers.get('content-security-policy') ?? ''
  t.equal(apiCsp, "default-src 'none'; frame-ancestors 'none'", 'the API allows nothing')
})
