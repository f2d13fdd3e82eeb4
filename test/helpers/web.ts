// Browser tests' helpers: build the web client once (reusing web/dist while it is newer than its sources),
// and launch the machine's Chromium through playwright-core (never a downloaded browser).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'

process.env.PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD = '1'

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const root = fileURLToPath(new URL('../../', import.meta.url))
const web = join(root, 'web')
const builtIndex = join(web, 'dist', 'index.html')

function newestSource (path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return Math.max(0, ...readdirSync(path).filter((name) => name !== 'dist').map((name) => newestSource(join(path, name))))
}

function fresh (): boolean {
  return existsSync(builtIndex) && statSync(builtIndex).mtimeMs >= newestSource(web)
}

/** Builds web/dist unless it is newer than every file under web/; one build at a time across test processes. */
export async function ensureWebBuilt (): Promise<void> {
  const lock = join(web, '.build-lock')
  for (;;) {
    if (fresh()) return
    try {
      mkdirSync(lock)
      break
    } catch {
      await sleep(200) // another test file is building it
    }
  }
  try {
    if (fresh()) return
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [join(root, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', web, '--logLevel', 'error'], { cwd: root, stdio: 'inherit' })
      child.on('error', reject)
      child.on('exit', (code) => code === 0 ? resolve() : reject(new Error(`vite build exited with ${code}`)))
    })
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/** Headless Chromium in a fresh profile (Playwright makes a temporary user-data-dir for each launch). */
export function launchChromium (): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic']
  })
}

/**
 * Collects console errors and uncaught exceptions of a page; the test fails on any. `expected` names the console
 * errors a test provokes on purpose (Chromium logs every 4xx answer, e.g. a refused send, as "Failed to load resource").
 */
export function watchConsole (page: Page, name: string, errors: string[], expected: (text: string, url: string) => boolean = () => false): void {
  page.on('console', (message) => { if (message.type() === 'error' && !expected(message.text(), message.location().url)) errors.push(`${name}: ${message.text()}`) })
  page.on('pageerror', (error) => { errors.push(`${name}: ${error.message}`) })
}

const CONTROL_ROLES = new Set(['button', 'textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'link', 'tab', 'slider', 'spinbutton', 'switch', 'menuitem'])

/** The controls on screen that have no accessible name (from Chromium's own accessibility tree). */
export async function unlabelledControls (page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page)
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree')
    return nodes
      .filter((node) => !node.ignored && CONTROL_ROLES.has(String(node.role?.value)) && String(node.name?.value ?? '').trim() === '')
      .map((node) => `${String(node.role?.value)} #${node.backendDOMNodeId ?? '?'}`)
  } finally {
    await cdp.detach()
  }
}

export interface OpenPageOptions {
  viewport?: { width: number, height: number }
  /** Console errors the test provokes on purpose (see watchConsole). */
  expected?: (text: string, url: string) => boolean
}

/** A new browser context (one person, one window) on the web client, watched for console errors, at its sign-in screen. */
export async function openPage (browser: Browser, baseUrl: string, name: string, errors: string[], options: OpenPageOptions = {}): Promise<{ context: BrowserContext, page: Page }> {
  const context = await browser.newContext({ viewport: options.viewport ?? { width: 1000, height: 700 } })
  const page = await context.newPage()
  page.setDefaultTimeout(10_000)
  watchConsole(page, name, errors, options.expected)
  await page.goto(baseUrl)
  await page.getByRole('heading', { name: 'Sign in' }).waitFor()
  return { context, page }
}

/** Creates an account through the sign-up form and waits until its event stream is live. */
export async function signUp (page: Page, username: string, password = 'correct horse battery'): Promise<void> {
  await page.getByRole('button', { name: 'Create an account' }).click()
  await page.getByLabel('Username').fill(username)
  await page.getByLabel('Email').fill(`${username}@example.com`)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Create account' }).click()
  await page.getByRole('status').filter({ hasText: 'Live' }).waitFor()
}

/** Finds a user by name in the Contacts tab and adds them. */
export async function addContact (page: Page, username: string): Promise<void> {
  await page.getByRole('tab', { name: 'Contacts' }).click()
  await page.getByLabel('Find people').fill(username)
  await page.getByRole('button', { name: `Add ${username}`, exact: true }).click()
  await page.getByRole('list', { name: 'Contacts' }).getByText(username, { exact: true }).waitFor()
}
