// A browser client on another origin (allowed by CORS_ORIGINS) shows an image through its signed link in an <img>;
// without CORS_ORIGINS, a page of another origin cannot embed it (Cross-Origin-Resource-Policy).
import { existsSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import sharp from 'sharp'
import t, { type Test } from 'tap'
import { startApp } from '../helpers/app.ts'
import { addContact, registerUser } from '../helpers/client.ts'
import { upload } from '../helpers/upload.ts'
import { CHROMIUM_PATH, launchChromium } from '../helpers/web.ts'

if (!existsSync(CHROMIUM_PATH)) {
  t.plan(0, `browser tests skipped: no Chromium at ${CHROMIUM_PATH} (set CHROMIUM_PATH)`)
} else {
  // The other origin, on another port: a page showing the image at ?src= in an <img>.
  const pageServer = http.createServer((request, response) => {
    const src = new URL(request.url ?? '/', 'http://page').searchParams.get('src') ?? ''
    response.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>client</title><img alt="sent" src="${encodeURI(src).replaceAll('&', '&amp;')}">`)
  })
  await new Promise<void>((resolve) => pageServer.listen(0, '127.0.0.1', resolve))
  t.teardown(() => pageServer.close())
  const pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`

  const browser = await launchChromium()
  t.teardown(() => browser.close())
  const photo = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#2080c0' } }).jpeg().toBuffer()

  /** The width the page's <img> shows for the image's signed link, or 0 when the browser refused it. */
  async function widthShownAcrossOrigins (t: Test, corsOrigins: string[]): Promise<number> {
    const { baseUrl } = await startApp(t, { corsOrigins })
    const alice = await registerUser(baseUrl)
    const bob = await registerUser(baseUrl)
    await addContact(alice, bob)
    const sent = await upload(baseUrl, alice.token, `/conversations/${bob.id}/images`, { bytes: photo, name: 'p.jpg' })
    t.equal(sent.status, 201)
    const page = await browser.newPage()
    const src = new URL(sent.body.file.downloadUrl, baseUrl).href
    // 'load' waits for the image to load or fail.
    await page.goto(`${pageOrigin}/?src=${encodeURIComponent(src)}`, { waitUntil: 'load' })
    const width = await page.getByAltText('sent').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)
    await page.close()
    return width
  }

  t.test('with CORS_ORIGINS naming the page\'s origin, its <img> shows the image', async (t) => {
    t.equal(await widthShownAcrossOrigins(t, [pageOrigin]), 120)
  })

  t.test('without CORS_ORIGINS, a page of another origin cannot embed it', async (t) => {
    t.equal(await widthShownAcrossOrigins(t, []), 0)
  })
}
