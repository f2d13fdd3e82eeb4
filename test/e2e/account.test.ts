// The web client's account screens in a real browser: signed-in devices (sign one or all others out), blocking
// and unblocking, an image whose signed link expired while the chat was open, and deleting the account.
// Erin uses a desktop window (two, for the devices); Frank a phone-sized one.
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import sharp from 'sharp'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { startApp } from '../helpers/app.ts'
import { addContact, CHROMIUM_PATH, ensureWebBuilt, launchChromium, openPage, signUp, unlabelledControls } from '../helpers/web.ts'

const shots = new URL('./screenshots/', import.meta.url)
// Short-lived signed links, so that one expires while Frank's chat is open.
const FILE_URL_TTL_SECONDS = 2
const PASSWORD = 'correct horse battery'

/** The 4xx answers these tests provoke, which Chromium logs as console errors ("Failed to load resource"). */
function expected (text: string, url: string): boolean {
  const { pathname } = new URL(url, 'http://x')
  if (text.includes('status of 403')) return /^\/conversations\/[^/]+\/(messages|typing)$/.test(pathname) || pathname === '/users/me' // blocked sends and typing; a wrong password
  if (text.includes('status of 401')) return pathname.endsWith('/thumbnail') || pathname === '/auth/login' // the expired thumbnail; the deleted user's sign-in
  return false
}

if (!existsSync(CHROMIUM_PATH)) {
  t.plan(0, `browser tests skipped: no Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`)
} else {
  await ensureWebBuilt()
  mkdirSync(shots, { recursive: true })
  const { baseUrl } = await startApp(t, { fileUrlTtlSeconds: FILE_URL_TTL_SECONDS })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const errors: string[] = []

  async function signIn (page: Page, username: string, password = PASSWORD) {
    await page.getByLabel('Username').fill(username)
    await page.getByLabel('Password').fill(password)
    await page.getByRole('button', { name: 'Sign in', exact: true }).click()
  }

  /** Saves a screenshot with `section` in view, and checks that every control on screen is labelled. */
  async function screen (t: Test, page: Page, name: string, section?: string) {
    if (section !== undefined) await page.getByRole('heading', { name: section }).evaluate((heading) => heading.scrollIntoView({ block: 'start' }))
    await page.screenshot({ path: new URL(`${name}.png`, shots).pathname })
    t.same(await unlabelledControls(page), [], `${name}: every control has an accessible name`)
  }

  const messages = (page: Page) => page.getByRole('log', { name: 'Messages' })
  const devices = (page: Page) => page.getByRole('list', { name: 'Devices' })

  const open = (name: string, viewport?: { width: number, height: number }) => openPage(browser, baseUrl, name, errors, { viewport, expected })
  const erin = await open('erin')
  const other = await open('erin-2')
  const frank = await open('frank', { width: 360, height: 740 })

  await t.test('devices: both sessions listed; signing out the other one sends it back to sign-in', async (t) => {
    await signUp(erin.page, 'erin')
    await signIn(other.page, 'erin')
    await other.page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    await erin.page.getByRole('tab', { name: 'Profile' }).click()
    await devices(erin.page).getByRole('listitem').nth(1).waitFor()
    t.equal(await devices(erin.page).getByRole('listitem').count(), 2, 'two sessions')
    const current = devices(erin.page).getByRole('listitem').filter({ hasText: '(this device)' })
    t.equal(await current.count(), 1, 'this one marked')
    t.match(await current.textContent(), /Chrome on Linux/, 'named from its User-Agent')
    await screen(t, erin.page, 'devices', 'Signed-in devices')

    await devices(erin.page).getByRole('listitem').filter({ hasNotText: '(this device)' }).getByRole('button', { name: /^Sign out Chrome/ }).click()
    await other.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await other.page.getByText('This session was signed out').waitFor()
    await devices(erin.page).getByRole('listitem').nth(1).waitFor({ state: 'detached' })
    t.pass('the other device is signed out and gone from the list')

    await signIn(other.page, 'erin')
    await other.page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    await erin.page.getByRole('tab', { name: 'Chats' }).click()
    await erin.page.getByRole('tab', { name: 'Profile' }).click()
    await erin.page.getByRole('button', { name: 'Sign out all other devices' }).click()
    await other.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await erin.page.getByRole('button', { name: 'Sign out all other devices' }).waitFor({ state: 'detached' })
    t.equal(await devices(erin.page).getByRole('listitem').count(), 1, 'only this device left')
    await other.context.close()
  })

  await t.test('blocking: the blocker\'s box says so; the blocked user\'s send is refused with a clear message; unblocking restores it', async (t) => {
    await signUp(frank.page, 'frank')
    await addContact(erin.page, 'frank')
    await addContact(frank.page, 'erin')

    erin.page.once('dialog', (dialog) => { void dialog.accept() })
    await erin.page.getByRole('button', { name: 'Block frank', exact: true }).click()
    const frankRow = erin.page.getByRole('list', { name: 'Contacts' }).getByRole('listitem').filter({ hasText: 'frank' })
    await frankRow.getByText('Blocked').waitFor()
    await frankRow.getByRole('img', { name: 'offline' }).waitFor()
    await erin.page.getByRole('button', { name: 'Message frank' }).click()
    await erin.page.getByRole('status').filter({ hasText: 'You blocked frank' }).waitFor()
    t.equal(await erin.page.getByLabel('Message', { exact: true }).count(), 0, 'no message box while blocked')

    await frank.page.getByRole('button', { name: 'Message erin' }).click()
    await frank.page.getByLabel('Message', { exact: true }).fill('are you there?')
    await frank.page.getByLabel('Message', { exact: true }).press('Enter')
    await messages(frank.page).getByRole('alert').filter({ hasText: 'One of you has blocked the other' }).waitFor()
    await frank.page.getByRole('status').filter({ hasText: 'You can\'t send messages to erin' }).waitFor()
    t.equal(await frank.page.getByLabel('Message', { exact: true }).count(), 0, 'the box gives way to the reason')
    await screen(t, frank.page, 'blocked')

    await erin.page.getByRole('tab', { name: 'Profile' }).click()
    const blocked = erin.page.getByRole('list', { name: 'Blocked users' })
    await blocked.getByText('frank', { exact: true }).waitFor()
    await screen(t, erin.page, 'blocked-users', 'Blocked users')
    await blocked.getByRole('button', { name: 'Unblock frank' }).click()
    await blocked.waitFor({ state: 'detached' })
    await erin.page.getByLabel('Message', { exact: true }).waitFor()
    t.pass('unblocked: Erin\'s box is back')

    await frank.page.getByRole('button', { name: 'Try again' }).click()
    await messages(erin.page).getByText('are you there?', { exact: true }).waitFor()
    await frank.page.getByLabel('Message', { exact: true }).waitFor()
    t.equal(await messages(frank.page).getByRole('alert').count(), 0, 'the refused message went through')
  })

  await t.test('signed links that expired while the chat was open: the image loads, opens and downloads through fresh ones', async (t) => {
    // Frank has the chat loaded but not on screen (back to the list on the phone) when the image and the file arrive.
    await frank.page.getByRole('button', { name: 'Back to the list' }).click()
    const thumbnails: number[] = []
    const originals: number[] = []
    frank.page.on('response', (response) => {
      const url = response.url()
      if (url.includes('/thumbnail?')) thumbnails.push(response.status())
      else if (url.includes('/files/')) originals.push(response.status())
    })
    const png = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#33aa66' } }).png().toBuffer()
    const conversation = frank.page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: /erin/ })
    await erin.page.getByLabel('Files to send').setInputFiles({ name: 'green.png', mimeType: 'image/png', buffer: png })
    await conversation.getByText('Image: green.png').waitFor()
    await erin.page.getByLabel('Files to send').setInputFiles({ name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from('the plan') })
    await conversation.getByText('File: plan.txt').waitFor()
    const expiry = () => frank.page.waitForTimeout(FILE_URL_TTL_SECONDS * 1000 + 1500)
    await expiry()
    await conversation.click()
    const decoded = (selector: string) => frank.page.waitForFunction((s) => (globalThis as unknown as { document: { querySelector: (s: string) => { naturalWidth: number } | null } }).document.querySelector(s)?.naturalWidth === 120, selector)
    await decoded('.messages img[alt="green.png"]')
    t.same(thumbnails, [401, 200], 'the expired thumbnail link answered 401, the fresh one the image')

    await expiry()
    await messages(frank.page).getByRole('button', { name: 'Open image green.png' }).click()
    await decoded('dialog img[alt="green.png"]')
    await frank.page.getByRole('button', { name: 'Close' }).click()
    t.pass('opened full size through a fresh link')

    await expiry()
    const [download] = await Promise.all([frank.page.waitForEvent('download'), messages(frank.page).getByRole('link', { name: /Download plan\.txt/ }).click()])
    t.equal(readFileSync((await download.path())!, 'utf8'), 'the plan', 'downloaded through a fresh link')
    t.notOk(originals.includes(401), 'no expired link was followed')
  })

  await t.test('deleting the account: a wrong password is refused; the right one returns to sign-in for good', async (t) => {
    await frank.page.getByRole('button', { name: 'Back to the list' }).click()
    await frank.page.getByRole('tab', { name: 'Profile' }).click()
    await frank.page.getByRole('button', { name: 'Delete my account…' }).click()
    const form = frank.page.getByRole('form', { name: 'Delete account' })
    await form.getByLabel('Password').fill('not my password')
    await form.getByRole('button', { name: 'Delete my account for good' }).click()
    await form.getByRole('alert').filter({ hasText: 'password is missing or wrong' }).waitFor()
    await screen(t, frank.page, 'delete-account', 'Delete account')

    await form.getByLabel('Password').fill(PASSWORD)
    await form.getByRole('button', { name: 'Delete my account for good' }).click()
    await frank.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await frank.page.getByText('Your account was deleted.').waitFor()
    await erin.page.getByRole('tab', { name: 'Contacts' }).click()
    await erin.page.getByRole('list', { name: 'Contacts' }).getByText('frank', { exact: true }).waitFor({ state: 'detached' })
    t.pass('gone from Erin\'s contacts at once')

    await signIn(frank.page, 'frank')
    await frank.page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor()
    t.pass('frank cannot sign in again')
  })

  t.test('no console error', async (t) => {
    t.same(errors, [])
  })
}
