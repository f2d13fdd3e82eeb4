// The web client's session: its token is renewed with token-login before it expires (so the user stays
// signed in past the first token's expiry), and signing out in one tab signs out the others.
import { existsSync } from 'node:fs'
import t from 'tap'
import type { Page } from 'playwright-core'
import { startApp } from '../helpers/app.ts'
import { CHROMIUM_PATH, ensureWebBuilt, launchChromium, watchConsole } from '../helpers/web.ts'

const TTL_SECONDS = 20

if (!existsSync(CHROMIUM_PATH)) {
  t.plan(0, `browser tests skipped: no Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`)
} else {
  await ensureWebBuilt()
  const { baseUrl } = await startApp(t, { tokenTtlSeconds: TTL_SECONDS })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const errors: string[] = []
  const context = await browser.newContext()
  const page = await context.newPage()
  page.setDefaultTimeout(TTL_SECONDS * 2000)
  watchConsole(page, 'dana', errors)

  const stored = (p: Page) => p.evaluate(() => (globalThis as unknown as { localStorage: { getItem: (key: string) => string | null } }).localStorage.getItem('chat.session'))

  await t.test('the token is renewed before it expires', async (t) => {
    await page.goto(baseUrl)
    await page.getByRole('button', { name: 'Create an account' }).click()
    await page.getByLabel('Username').fill('dana')
    await page.getByLabel('Email').fill('dana@example.com')
    await page.getByLabel('Password').fill('correct horse battery')
    const signedUpAt = Date.now()
    await page.getByRole('button', { name: 'Create account' }).click()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    const first = JSON.parse((await stored(page))!) as { token: string }
    await page.waitForFunction((token) => !(globalThis as unknown as { localStorage: { getItem: (key: string) => string } }).localStorage.getItem('chat.session').includes(token), first.token)
    t.ok(Date.now() < signedUpAt + TTL_SECONDS * 1000, 'renewed before the first token expired')

    // Past the first token's expiry, a reload still finds the session.
    await page.waitForTimeout(Math.max(0, signedUpAt + TTL_SECONDS * 1000 + 1000 - Date.now()))
    await page.reload()
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    t.pass('still signed in')
  })

  await t.test('signing out in one tab signs out the others', async (t) => {
    const other = await context.newPage()
    watchConsole(other, 'dana-2', errors)
    await other.goto(baseUrl)
    await other.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    await other.getByRole('tab', { name: 'Profile' }).click()
    await other.getByRole('button', { name: 'Sign out', exact: true }).click()
    await page.getByRole('heading', { name: 'Sign in' }).waitFor()
    t.equal(await stored(page), null)
  })

  t.test('no console error', async (t) => {
    t.same(errors, [])
  })
}
