// The web client in a real browser: Alice and Bob sign up, add each other and chat live, with images,
// files, read receipts, typing, edits, reactions, deletions, a dropped connection resumed without loss or repetition, and sign-out.
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import sharp from 'sharp'
import t, { type Test } from 'tap'
import type { Page } from 'playwright-core'
import { startApp } from '../helpers/app.ts'
import { addContact, CHROMIUM_PATH, ensureWebBuilt, launchChromium, openPage, signUp, unlabelledControls } from '../helpers/web.ts'

const shots = new URL('./screenshots/', import.meta.url)

if (!existsSync(CHROMIUM_PATH)) {
  t.plan(0, `browser tests skipped: no Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`)
} else {
  await ensureWebBuilt()
  mkdirSync(shots, { recursive: true })
  const { baseUrl } = await startApp(t, { maxUploadBytes: 1024 * 1024 })
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const errors: string[] = []

  /** Saves a screenshot of a main screen, and checks that every control on it is labelled. */
  async function screen (t: Test, page: Page, name: string) {
    await page.screenshot({ path: new URL(`${name}.png`, shots).pathname })
    t.same(await unlabelledControls(page), [], `${name}: every control has an accessible name`)
  }

  const messages = (page: Page) => page.getByRole('log', { name: 'Messages' })

  async function send (page: Page, text: string) {
    await page.getByLabel('Message', { exact: true }).fill(text)
    await page.getByLabel('Message', { exact: true }).press('Enter')
  }

  const open = (name: string, viewport?: { width: number, height: number }) => openPage(browser, baseUrl, name, errors, { viewport })
  const alice = await open('alice')
  const bob = await open('bob')
  await alice.page.getByRole('heading', { name: 'Sign in' }).waitFor()
  await screen(t, alice.page, 'sign-in')

  await t.test('sign up and add each other, with live online dots', async (t) => {
    await signUp(alice.page, 'alice')
    await signUp(bob.page, 'bob')
    await addContact(alice.page, 'bob')
    await addContact(bob.page, 'alice')
    const bobRow = alice.page.getByRole('list', { name: 'Contacts' }).getByRole('listitem').filter({ hasText: 'bob' })
    await bobRow.getByRole('img', { name: 'online' }).waitFor()
    await screen(t, alice.page, 'contacts')
    t.pass('both online in each other\'s contacts')
  })

  await t.test('chat both ways live, with unread badges and read receipts', async (t) => {
    await alice.page.getByRole('button', { name: 'Message bob' }).click()
    await bob.page.getByRole('tab', { name: 'Chats' }).click()
    await send(alice.page, 'Hello Bob')
    const conversation = bob.page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: /alice/ })
    await conversation.getByLabel('1 unread').waitFor()
    t.match(await conversation.textContent(), /Hello Bob/, 'the preview shows the last message')
    await conversation.click()
    await messages(bob.page).getByText('Hello Bob').waitFor()
    await messages(alice.page).getByRole('img', { name: 'Read' }).waitFor()
    t.equal(await conversation.getByLabel('1 unread').count(), 0, 'opening the chat reads it')

    // Shift+Enter is a new line; Enter sends.
    const box = bob.page.getByLabel('Message', { exact: true })
    await box.fill('Hi Alice')
    await box.press('Shift+Enter')
    await box.pressSequentially('How are you?')
    await box.press('Enter')
    await messages(alice.page).getByText('Hi Alice\nHow are you?').waitFor()
    t.equal(await box.inputValue(), '', 'the box is empty after sending')
  })

  await t.test('typing, an edit, a reaction and a deletion show live on the other side', async (t) => {
    const actions = async (page: Page, text: string) => {
      await messages(page).locator('.msg').filter({ has: page.getByText(text, { exact: true }) }).getByRole('button', { name: 'Message actions' }).click()
    }
    const bobHead = bob.page.getByRole('region', { name: 'Conversation with alice' }).locator('.chat-head')
    // The client sends `typing: true` at once and again every 3 s while Alice types, and `false` 5 s after her last
    // key: Bob sees it even if one request is coalesced away, and it goes when she stops.
    await alice.page.getByLabel('Message', { exact: true }).pressSequentially('to')
    await bobHead.getByText('typing…').waitFor()
    t.pass('Bob sees "typing…"')
    await bobHead.getByText('typing…').waitFor({ state: 'detached', timeout: 15_000 })
    t.pass('"typing…" goes when Alice stops typing')
    await alice.page.getByLabel('Message', { exact: true }).fill('to be')
    await alice.page.getByLabel('Message', { exact: true }).pressSequentially(' edited')
    await alice.page.getByLabel('Message', { exact: true }).press('Enter')
    await messages(bob.page).getByText('to be edited', { exact: true }).waitFor()
    await bobHead.getByText('typing…').waitFor({ state: 'detached' })
    t.pass('"typing…" shows while Alice types and goes when she sends')

    await actions(alice.page, 'to be edited')
    await messages(alice.page).getByRole('button', { name: 'Edit', exact: true }).click()
    await alice.page.getByLabel('Edit message').fill('now edited')
    await alice.page.getByLabel('Edit message').press('Enter')
    await messages(bob.page).getByText('now edited', { exact: true }).waitFor()
    t.equal(await messages(bob.page).getByText('to be edited', { exact: true }).count(), 0, 'the old text is gone')
    t.equal(await messages(bob.page).locator('.msg').filter({ hasText: 'now edited' }).locator('.edited').count(), 1, 'marked edited')

    await actions(bob.page, 'now edited')
    await messages(bob.page).getByRole('button', { name: 'React 👍', exact: true }).click()
    const reaction = messages(alice.page).getByRole('button', { name: '👍 1' })
    await reaction.waitFor()
    t.equal(await reaction.getAttribute('aria-pressed'), 'false', 'Bob\'s reaction, not Alice\'s')
    await reaction.click()
    await messages(bob.page).getByRole('button', { name: '👍 2' }).waitFor()
    t.pass('Alice adds hers by clicking it; Bob sees the count')

    await send(alice.page, 'oops')
    await messages(bob.page).getByText('oops', { exact: true }).waitFor()
    await actions(alice.page, 'oops')
    alice.page.once('dialog', (dialog) => { void dialog.accept() })
    await messages(alice.page).getByRole('button', { name: 'Delete for everyone', exact: true }).click()
    await messages(bob.page).getByText('oops', { exact: true }).waitFor({ state: 'detached' })
    await messages(alice.page).getByText('oops', { exact: true }).waitFor({ state: 'detached' })
    t.pass('deleted for everyone: gone on both sides')

    await send(alice.page, 'only Bob drops this')
    await messages(bob.page).getByText('only Bob drops this', { exact: true }).waitFor()
    await actions(bob.page, 'only Bob drops this')
    bob.page.once('dialog', (dialog) => { void dialog.accept() })
    await messages(bob.page).getByRole('button', { name: 'Delete for me', exact: true }).click()
    await messages(bob.page).getByText('only Bob drops this', { exact: true }).waitFor({ state: 'detached' })
    t.equal(await messages(alice.page).getByText('only Bob drops this', { exact: true }).count(), 1, 'deleted for Bob only')
  })

  await t.test('an image shows inline and opens full size; a file downloads', async (t) => {
    const png = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#3366cc' } }).png().toBuffer()
    await alice.page.locator('input[type=file]').setInputFiles({ name: 'blue.png', mimeType: 'image/png', buffer: png })
    const image = messages(bob.page).getByRole('img', { name: 'blue.png' })
    await image.waitFor()
    t.equal(await image.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth), 120, 'the image is decoded')
    const src = await image.getAttribute('src') ?? ''
    t.match(src, /\/thumbnail\?/, 'inline: the thumbnail')
    t.match(src, /sig=/, 'through a signed link')
    await messages(bob.page).getByRole('button', { name: 'Open image blue.png' }).click()
    await bob.page.getByRole('dialog').getByRole('img', { name: 'blue.png' }).waitFor()
    await bob.page.getByRole('button', { name: 'Close' }).click()

    await alice.page.locator('input[type=file]').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('meeting at 10') })
    const link = messages(bob.page).getByRole('link', { name: 'Download notes.txt, 13 B' })
    await link.waitFor()
    const [download] = await Promise.all([bob.page.waitForEvent('download'), link.click()])
    t.equal(download.suggestedFilename(), 'notes.txt')
    t.equal(readFileSync(await download.path()).toString(), 'meeting at 10', 'the downloaded bytes are the sent ones')
    await screen(t, bob.page, 'chat')
  })

  await t.test('files dropped on the chat are sent; a file over the size limit (GET /limits) gets a clear message before any upload', async (t) => {
    const dataTransfer = await alice.page.evaluateHandle(() => {
      const g = globalThis as unknown as { DataTransfer: new () => { items: { add: (file: unknown) => void } }, File: new (parts: string[], name: string, options: object) => unknown }
      const transfer = new g.DataTransfer()
      transfer.items.add(new g.File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }))
      return transfer
    })
    await alice.page.getByRole('region', { name: 'Conversation with bob' }).dispatchEvent('drop', { dataTransfer })
    await messages(bob.page).getByRole('link', { name: 'Download dropped.txt, 13 B' }).waitFor()

    await alice.page.locator('input[type=file]').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1024 * 1024 + 1) })
    const alert = messages(alice.page).getByRole('alert').filter({ hasText: 'big.bin' })
    await alert.waitFor()
    t.match(await alert.textContent(), /big\.bin is larger than this server accepts/)
    t.notOk(errors.some((error) => error.includes('413')), 'checked against GET /limits before sending: no 413')
    await alert.getByRole('button', { name: 'Dismiss' }).click()
    await alert.waitFor({ state: 'detached' })
  })

  await t.test('a dropped connection resumes: the missed messages show exactly once; a failed send is retried once', async (t) => {
    await bob.context.setOffline(true)
    await bob.page.getByRole('status').filter({ hasText: 'Offline' }).waitFor()
    await send(bob.page, 'sent while offline')
    await messages(bob.page).getByRole('alert').filter({ hasText: 'no connection' }).waitFor()
    for (const n of [1, 2, 3]) await send(alice.page, `missed ${n}`)
    await messages(alice.page).getByText('missed 3').waitFor()
    await bob.context.setOffline(false)
    await messages(bob.page).getByText('missed 3').waitFor()
    await messages(alice.page).getByText('sent while offline').waitFor()
    await bob.page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
    for (const page of [alice.page, bob.page]) {
      const texts = await messages(page).locator('.msg .text').allTextContents()
      for (const text of ['missed 1', 'missed 2', 'missed 3', 'sent while offline']) t.equal(texts.filter((x) => x === text).length, 1, `"${text}" once`)
      t.same(texts.filter((x) => x.startsWith('missed')), ['missed 1', 'missed 2', 'missed 3'], 'in order')
    }
  })

  await t.test('a new conversation arrives live with its unread count; history pages back on scroll up', async (t) => {
    const post = async (path: string, body: object, token?: string) => {
      const response = await fetch(`${baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) })
      t.ok(response.ok, `${path}: ${response.status}`)
      return await response.json() as { token: string }
    }
    const { token } = await post('/auth/register', { username: 'carol', email: 'carol@example.com', password: 'correct horse battery' })
    await post('/contacts', { username: 'alice' }, token)
    const stored = await alice.page.evaluate(() => (globalThis as unknown as { localStorage: { getItem: (key: string) => string | null } }).localStorage.getItem('chat.session'))
    t.ok(stored, 'the session is kept in localStorage')
    const search = await (await fetch(`${baseUrl}/users?search=alice`, { headers: { authorization: `Bearer ${token}` } })).json() as { users: Array<{ id: string }> }
    for (let n = 1; n <= 70; n++) await post(`/conversations/${search.users[0]!.id}/messages`, { content: `old ${n}` }, token)

    const conversation = alice.page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: /carol/ })
    await conversation.getByLabel('70 unread').waitFor()
    await conversation.click()
    await messages(alice.page).getByText('old 70', { exact: true }).waitFor()
    t.equal(await messages(alice.page).getByText('old 1', { exact: true }).count(), 0, 'only the newest page at first')
    await messages(alice.page).evaluate((log) => { log.scrollTop = 0 })
    await messages(alice.page).getByText('old 1', { exact: true }).waitFor()
    await messages(alice.page).getByText('Start of the conversation').waitFor()
    const texts = await messages(alice.page).locator('.msg .text').allTextContents()
    t.same(texts, Array.from({ length: 70 }, (_, i) => `old ${i + 1}`), 'every message once, oldest first')
    await alice.page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: /bob/ }).click()
  })

  await t.test('search: in one conversation, and in all messages page by page; a result opens its chat at it', async (t) => {
    const chat = alice.page.getByRole('region', { name: 'Conversation with bob' })
    await chat.getByRole('button', { name: 'Search this conversation' }).click()
    const box = chat.getByRole('searchbox', { name: 'Search messages with bob' })
    await box.fill('hello')
    await box.press('Enter')
    const found = chat.getByRole('list', { name: 'Found messages' })
    await found.getByText('Hello Bob').waitFor()
    t.equal(await found.getByRole('listitem').count(), 1, 'one message with "hello" in this conversation')
    await screen(t, alice.page, 'search')
    await found.getByRole('button', { name: /Hello Bob/ }).click()
    await messages(alice.page).locator('.msg.found').getByText('Hello Bob').waitFor()
    t.pass('the picked message is marked in the chat')
    await box.fill('o')
    await box.press('Enter')
    await found.getByText('only Bob drops this', { exact: true }).waitFor()
    t.equal(await found.getByText(/^old \d+$/).count(), 0, 'a 1-character query, in this conversation only (not carol\'s "old" messages)')

    await alice.page.getByRole('tab', { name: 'Chats' }).click()
    const all = alice.page.getByRole('searchbox', { name: 'Search all messages' })
    await all.fill('old')
    await all.press('Enter')
    const results = alice.page.locator('.sidebar').getByRole('list', { name: 'Found messages' })
    await results.getByText('old 70', { exact: true }).waitFor()
    t.equal(await results.getByRole('listitem').count(), 20, 'a page of 20, newest first')
    await alice.page.getByRole('button', { name: 'More results' }).click()
    await results.getByText('old 31', { exact: true }).waitFor()
    const texts = await results.locator('.found-text').allTextContents()
    t.same(texts, Array.from({ length: 40 }, (_, i) => `old ${70 - i}`), 'the next page follows, none twice')
    await results.getByRole('listitem').filter({ has: alice.page.getByText('old 31', { exact: true }) }).getByRole('button').click()
    await alice.page.getByRole('region', { name: 'Conversation with carol' }).locator('.msg.found').getByText('old 31', { exact: true }).waitFor()
    t.pass('a result of another conversation opens it at the message')
    await all.fill('')
  })

  await t.test('phone width', async (t) => {
    const phone = await open('alice-phone', { width: 360, height: 740 })
    await phone.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await phone.page.getByLabel('Username').fill('alice')
    await phone.page.getByLabel('Password').fill('correct horse battery')
    await phone.page.getByRole('button', { name: 'Sign in', exact: true }).click()
    await phone.page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: /bob/ }).click()
    await messages(phone.page).getByText('sent while offline').waitFor()
    t.ok(await phone.page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth <= 360), 'nothing wider than the screen')
    await screen(t, phone.page, 'phone-chat')
    await phone.page.getByRole('button', { name: 'Back to the list' }).click()
    await phone.page.getByRole('list', { name: 'Conversations' }).waitFor()
    await screen(t, phone.page, 'phone-chats')
    await phone.context.close()
  })

  await t.test('stays signed in across a reload; clear conversation; profile', async (t) => {
    await alice.page.reload()
    await alice.page.getByRole('list', { name: 'Conversations' }).waitFor()
    await bob.page.getByRole('button', { name: 'Clear conversation' }).click({ trial: true })
    bob.page.once('dialog', (dialog) => { void dialog.accept() })
    await bob.page.getByRole('button', { name: 'Clear conversation' }).click()
    await messages(bob.page).locator('.msg').first().waitFor({ state: 'detached' })
    await alice.page.getByRole('list', { name: 'Conversations' }).getByRole('button', { name: /bob/ }).click()
    await messages(alice.page).getByText('Hello Bob').waitFor()
    t.pass('clearing is for the clearer only')

    await alice.page.getByRole('tab', { name: 'Profile' }).click()
    const avatar = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#cc3366' } }).png().toBuffer()
    await alice.page.getByLabel('Avatar image').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: avatar })
    await alice.page.getByText('Avatar changed.').waitFor()
    await alice.page.locator('.sidebar-head .avatar img').waitFor()
    await screen(t, alice.page, 'profile')
  })

  await t.test('a session revoked elsewhere returns to sign-in; sign out', async (t) => {
    // Bob changes his password from another device: every other session of his ends.
    const login = await fetch(`${baseUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bob', password: 'correct horse battery' }) })
    const { token } = await login.json() as { token: string }
    const change = await fetch(`${baseUrl}/users/me`, { method: 'PATCH', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ currentPassword: 'correct horse battery', password: 'a new horse battery' }) })
    t.equal(change.status, 200)
    await bob.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await bob.page.getByText('This session was signed out').waitFor()

    await alice.page.getByRole('button', { name: 'Sign out', exact: true }).click()
    await alice.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    await alice.page.reload()
    await alice.page.getByRole('heading', { name: 'Sign in' }).waitFor()
    t.pass('signed out for good')
  })

  t.test('no console error on any screen', async (t) => {
    t.same(errors, [])
  })
}
