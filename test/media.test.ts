// Images at upload: orientation applied and metadata (GPS) stripped, sizes read, thumbnails, the 50-megapixel limit
// decided from the header, decompression bombs, animations kept, avatars bounded; downloads with HEAD, Range and
// the extension of the real type.
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { crc32, deflateSync } from 'node:zlib'
import sharp from 'sharp'
import t from 'tap'
import { files } from '../src/db/schema.ts'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'
import { upload } from './helpers/upload.ts'

const { app, baseUrl, config } = await startApp(t)
const filesDir = join(config.dataDir, 'files')
const alice = await registerUser(baseUrl)
const bob = await registerUser(baseUrl)
await addContact(alice, bob)

const sendImage = (bytes: Uint8Array, name = 'photo.jpg') => upload(baseUrl, alice.token, `/conversations/${bob.id}/images`, { bytes, name })
/** `user` null: no token (signed links). */
const get = (url: string, headers: Record<string, string> = {}, user: TestUser | null = bob, method = 'GET') =>
  fetch(new URL(url, baseUrl), { method, headers: user === null ? headers : { ...headers, authorization: `Bearer ${user.token}` } })
const bytesOf = async (response: Response) => Buffer.from(await response.arrayBuffer())

/** One pixel's RGB. */
async function pixel (image: Buffer, x: number, y: number): Promise<number[]> {
  const { data, info } = await sharp(image).raw().toBuffer({ resolveWithObject: true })
  const at = (y * info.width + x) * info.channels
  return [data[at]!, data[at + 1]!, data[at + 2]!]
}

/** A PNG chunk: length, type, data, CRC. */
function chunk (type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([Buffer.from(type, 'latin1'), data])))
  return Buffer.concat([length, Buffer.from(type, 'latin1'), data, crc])
}

/** A 1-bit greyscale PNG of all-black rows: tiny on the wire, width x height pixels once decoded. */
function blackPng (width: number, height: number, rows = height): Buffer {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([1, 0, 0, 0, 0], 8) // bit depth 1, greyscale, deflate, filter 0, no interlace
  const row = Buffer.alloc(1 + Math.ceil(width / 8))
  const pixels = deflateSync(Buffer.concat(Array.from({ length: rows }, () => row)), { level: 9 })
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', pixels), chunk('IEND', Buffer.alloc(0))])
}

async function storedState () {
  const onDisk = existsSync(filesDir) ? readdirSync(filesDir).filter((name) => name !== 'tmp') : []
  const work = join(config.dataDir, 'tmp', 'images')
  return { rows: await app.db.$count(files), onDisk: onDisk.length, working: existsSync(work) ? readdirSync(work).length : 0 }
}

t.test('a JPEG with EXIF orientation and GPS is stored upright, without metadata, with its size and a WebP thumbnail', async (t) => {
  // 400x200 as stored, red on the left and blue on the right; orientation 6 says "turn 90 degrees clockwise to view".
  const photo = await sharp({ create: { width: 400, height: 200, channels: 3, background: '#ff0000' } })
    .composite([{ input: { create: { width: 200, height: 200, channels: 3, background: '#0000ff' } }, left: 200, top: 0 }])
    .jpeg()
    .withMetadata({ orientation: 6 })
    .withExif({ IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '48/1 51/1 2437/100', GPSLongitudeRef: 'E', GPSLongitude: '2/1 17/1 4000/100' } })
    .toBuffer()
  const input = await sharp(photo).metadata()
  t.equal(input.orientation, 6, 'the upload carries an orientation tag')
  t.ok(input.exif !== undefined && (input.exif.includes(Buffer.from([0x88, 0x25])) || input.exif.includes(Buffer.from([0x25, 0x88]))), 'and a GPS IFD')

  const sent = await sendImage(photo, 'holiday.jpg')
  t.equal(sent.status, 201)
  t.match(sent.body.file, { mimeType: 'image/jpeg', width: 200, height: 400, name: 'holiday.jpg' })
  t.match(sent.body.file.thumbnailUrl, /^\/files\/[0-9a-f-]{36}\/thumbnail\?exp=\d+&sig=[\w-]{43}$/)

  const stored = await get(sent.body.file.url)
  t.equal(stored.status, 200)
  const bytes = await bytesOf(stored)
  t.equal(bytes.length, sent.body.file.size, 'size describes the stored bytes')
  const meta = await sharp(bytes).metadata()
  t.match(meta, { format: 'jpeg', width: 200, height: 400 })
  t.equal(meta.exif, undefined, 'no EXIF (so no GPS) in the stored image')
  t.equal(meta.orientation, undefined, 'no orientation tag: the pixels are upright')
  t.equal(meta.xmp, undefined)
  const [top, bottom] = [await pixel(bytes, 100, 50), await pixel(bytes, 100, 350)]
  t.ok(top[0]! > 200 && top[2]! < 60, `the left (red) half is now on top: ${top.join(',')}`)
  t.ok(bottom[2]! > 200 && bottom[0]! < 60, `the right (blue) half at the bottom: ${bottom.join(',')}`)
  t.notOk(bytes.includes(Buffer.from('GPS')), 'no GPS text anywhere in the bytes')

  const thumbnail = await fetch(new URL(sent.body.file.thumbnailUrl, baseUrl))
  t.equal(thumbnail.status, 200)
  t.equal(thumbnail.headers.get('content-type'), 'image/webp')
  t.equal(thumbnail.headers.get('content-disposition'), 'inline; filename="holiday.thumbnail.webp"')
  const small = await sharp(await bytesOf(thumbnail)).metadata()
  t.match(small, { format: 'webp', width: 160, height: 320 }, 'within 320x320, aspect kept, upright')
  t.equal(small.exif, undefined)
})

t.test('a large photo gets a thumbnail of at most 320x320 and keeps its own size', async (t) => {
  const wide = await sharp({ create: { width: 1600, height: 900, channels: 3, background: '#336699' } }).png().toBuffer()
  const sent = await sendImage(wide, 'wide.png')
  t.match(sent.body.file, { mimeType: 'image/png', width: 1600, height: 900 })
  const thumbnail = await sharp(await bytesOf(await get(sent.body.file.thumbnailUrl, {}, null))).metadata()
  t.match(thumbnail, { format: 'webp', width: 320, height: 180 })
  const file = await upload(baseUrl, alice.token, `/conversations/${bob.id}/files`, { bytes: wide, name: 'wide.png', type: 'image/png' })
  t.match(file.body.file, { size: wide.length, width: null, height: null, thumbnailUrl: null }, 'sent as a file: stored as is, no thumbnail')
  const noThumbnail = await get(`/files/${file.body.file.id}/thumbnail`)
  t.equal(noThumbnail.status, 404)
  t.equal((await noThumbnail.json() as any).code, 'FILE_NOT_FOUND')
})

t.test('over 50 megapixels is 413 IMAGE_TOO_LARGE, decided from the header, with nothing stored', async (t) => {
  const before = await storedState()
  // The header says 10000x6000 (60 MP); the pixel data is one row: only the header can have decided.
  const sent = await sendImage(blackPng(10000, 6000, 1), 'huge.png')
  t.equal(sent.status, 413)
  t.equal(sent.body.code, 'IMAGE_TOO_LARGE')
  t.same(await storedState(), before, 'no row, no bytes, no work file')
})

t.test('a decompression bomb does not exhaust memory', async (t) => {
  const before = await storedState()
  // 20000x20000 (400 MP, 50 MB of 1-bit rows) deflates to about 50 KB; decoded to 8-bit it would be 400 MB.
  const bomb = blackPng(20000, 20000)
  t.ok(bomb.length < 200_000, `${bomb.length} bytes on the wire`)
  const rssBefore = process.memoryUsage().rss
  let peak = rssBefore
  const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 5)
  const sent = await sendImage(bomb, 'bomb.png')
  // Under the limit (49 MP) a bomb is decoded, within the bound of one image (README: Images).
  const within = await sendImage(blackPng(7000, 7000), 'dense.png')
  clearInterval(sampler)
  t.equal(sent.status, 413)
  t.equal(sent.body.code, 'IMAGE_TOO_LARGE')
  t.equal(within.status, 201)
  t.match(within.body.file, { width: 7000, height: 7000 })
  t.ok(peak - rssBefore < 400 * 1024 * 1024, `peak RSS grew ${Math.round((peak - rssBefore) / 1048576)} MiB`)
  t.equal((await storedState()).rows, before.rows + 1)
})

t.test('an animated GIF stays animated; its thumbnail is a still', async (t) => {
  const frame = (colour: string) => sharp({ create: { width: 64, height: 48, channels: 4, background: colour } }).png().toBuffer()
  const gif = await sharp([await frame('#ff0000'), await frame('#00ff00'), await frame('#0000ff')], { join: { animated: true } })
    .gif({ delay: [100, 100, 100], loop: 0 }).toBuffer()
  t.equal((await sharp(gif).metadata()).pages, 3)
  const sent = await sendImage(gif, 'loop.gif')
  t.equal(sent.status, 201)
  t.match(sent.body.file, { mimeType: 'image/gif', width: 64, height: 48 })
  const stored = await sharp(await bytesOf(await get(sent.body.file.url))).metadata()
  t.match(stored, { format: 'gif', pages: 3, width: 64 })
  const thumbnail = await sharp(await bytesOf(await get(sent.body.file.thumbnailUrl, {}, null))).metadata()
  t.match(thumbnail, { format: 'webp', width: 64, height: 48 })

  const webp = await sharp(gif, { animated: true }).webp().toBuffer()
  const animatedWebp = await sendImage(webp, 'loop.webp')
  t.equal(animatedWebp.status, 201)
  t.equal((await sharp(await bytesOf(await get(animatedWebp.body.file.url)), { animated: true }).metadata()).pages, 3, 'animated WebP too')
})

t.test('avatars are stored at most 512x512', async (t) => {
  const big = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#804020' } }).jpeg().toBuffer()
  const set = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: big, name: 'me.jpg' }, 'PUT')
  t.equal(set.status, 200)
  const stored = await sharp(await bytesOf(await get(set.body.avatarUrl, {}, null))).metadata()
  t.match(stored, { format: 'jpeg', width: 512, height: 341 })
})

t.test('an image that cannot be decoded is 415 with nothing stored', async (t) => {
  const before = await storedState()
  const photo = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#123456' } }).jpeg().toBuffer()
  const truncated = await sendImage(photo.subarray(0, 200), 'cut.jpg')
  t.equal(truncated.status, 415)
  t.equal(truncated.body.code, 'UNSUPPORTED_IMAGE')
  t.same(await storedState(), before)
})

t.test('bytes too few to tell their type: an image or avatar is 415 UNSUPPORTED_IMAGE, a file is stored as octet-stream', async (t) => {
  const signatureOnly = Buffer.from('89504e470d0a1a0a', 'hex') // a PNG's first 8 bytes
  const tiffHeader = Buffer.from('49492a00', 'hex')
  for (const bytes of [signatureOnly, tiffHeader]) {
    const before = await storedState()
    const image = await sendImage(bytes, 'short.png')
    t.equal(image.status, 415, 'image')
    t.equal(image.body.code, 'UNSUPPORTED_IMAGE')
    const avatar = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes, name: 'short.png' }, 'PUT')
    t.equal(avatar.status, 415, 'avatar')
    t.equal(avatar.body.code, 'UNSUPPORTED_IMAGE')
    t.same(await storedState(), before, 'nothing stored')
    const file = await upload(baseUrl, alice.token, `/conversations/${bob.id}/files`, { bytes, name: 'short.bin' })
    t.equal(file.status, 201, 'file')
    t.equal(file.body.file?.mimeType, 'application/octet-stream')
  }
})

t.test('images download under the extension of their real type', async (t) => {
  const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } }).png().toBuffer()
  const cases: Array<[string, string]> = [['cat.jpg', 'cat.png'], ['cat.PNG', 'cat.PNG'], ['scan', 'scan.png'], ['notes.txt', 'notes.txt.png']]
  for (const [name, saved] of cases) {
    const sent = await sendImage(png, name)
    t.equal(sent.body.file.name, name, 'the name as sent, for display')
    const response = await get(sent.body.file.url, {}, bob, 'HEAD')
    t.equal(response.headers.get('content-disposition'), `inline; filename="${saved}"`, `${name} -> ${saved}`)
  }
})

t.test('HEAD, Range and If-None-Match', async (t) => {
  const bytes = randomBytes(1000)
  const sent = await upload(baseUrl, alice.token, `/conversations/${bob.id}/files`, { bytes, name: 'data.bin' })
  const url = sent.body.file.url

  const head = await get(url, {}, bob, 'HEAD')
  t.equal(head.status, 200)
  t.equal(head.headers.get('content-length'), '1000')
  t.equal(head.headers.get('accept-ranges'), 'bytes')
  t.match(head.headers.get('etag'), /^"[0-9a-f]{64}"$/)
  t.equal(head.headers.get('content-disposition'), 'attachment; filename="data.bin"')
  t.equal((await head.arrayBuffer()).byteLength, 0, 'no body')
  const etag = head.headers.get('etag')!
  const anonymousHead = await get(url, {}, null, 'HEAD')
  t.equal(anonymousHead.status, 401)

  const first = await get(url, { range: 'bytes=0-9' })
  t.equal(first.status, 206)
  t.equal(first.headers.get('content-range'), 'bytes 0-9/1000')
  t.equal(first.headers.get('content-length'), '10')
  t.ok((await bytesOf(first)).equals(bytes.subarray(0, 10)), 'the first bytes')

  const last = await get(url, { range: 'bytes=-10' })
  t.equal(last.status, 206)
  t.equal(last.headers.get('content-range'), 'bytes 990-999/1000')
  t.ok((await bytesOf(last)).equals(bytes.subarray(990)), 'the last bytes')

  const tail = await get(url, { range: 'bytes=500-' })
  t.equal(tail.headers.get('content-range'), 'bytes 500-999/1000')
  t.ok((await bytesOf(tail)).equals(bytes.subarray(500)))
  const clipped = await get(url, { range: 'bytes=995-5000' })
  t.equal(clipped.headers.get('content-range'), 'bytes 995-999/1000')
  t.ok((await bytesOf(clipped)).equals(bytes.subarray(995)))

  const past = await get(url, { range: 'bytes=1000-1010' })
  t.equal(past.status, 416)
  t.equal(past.headers.get('content-range'), 'bytes */1000')
  t.match(await past.json(), { statusCode: 416, code: 'RANGE_NOT_SATISFIABLE' })

  const several = await get(url, { range: 'bytes=0-1,5-6' })
  t.equal(several.status, 200, 'several ranges: the whole file')
  t.equal((await bytesOf(several)).length, 1000)
  const stale = await get(url, { range: 'bytes=0-9', 'if-range': '"stale"' })
  t.equal(stale.status, 200, 'If-Range not current: the whole file')
  await stale.arrayBuffer()
  const current = await get(url, { range: 'bytes=0-9', 'if-range': etag })
  t.equal(current.status, 206)
  await current.arrayBuffer()

  const cached = await get(url, { 'if-none-match': etag, range: 'bytes=0-9' })
  t.equal(cached.status, 304, 'If-None-Match still answers 304')
  t.equal((await cached.arrayBuffer()).byteLength, 0)
  const headRange = await get(url, { range: 'bytes=10-19' }, bob, 'HEAD')
  t.equal(headRange.status, 206)
  t.equal(headRange.headers.get('content-length'), '10')

  // The same on a signed link, and on a thumbnail.
  const image = await sendImage(await sharp({ create: { width: 50, height: 50, channels: 3, background: '#fff' } }).jpeg().toBuffer())
  const signed = await get(image.body.file.downloadUrl, { range: 'bytes=0-2' }, null)
  t.equal(signed.status, 206)
  t.ok((await bytesOf(signed)).equals(Buffer.from([0xff, 0xd8, 0xff])))
  const thumbHead = await get(image.body.file.thumbnailUrl, {}, null, 'HEAD')
  t.equal(thumbHead.status, 200)
  t.equal(thumbHead.headers.get('content-type'), 'image/webp')
  const thumb = await bytesOf(await get(image.body.file.thumbnailUrl, {}, null))
  t.equal(thumbHead.headers.get('content-length'), String(thumb.length))
})

t.test('deleting an image removes its thumbnail too', async (t) => {
  const carol = await registerUser(baseUrl)
  const dave = await registerUser(baseUrl)
  await addContact(carol, dave)
  const sent = await upload(baseUrl, carol.token, `/conversations/${dave.id}/images`, { bytes: await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f0f' } }).png().toBuffer(), name: 'x.png' })
  const id = sent.body.file.id
  t.ok(existsSync(join(filesDir, `${id}.thumbnail`)), 'the thumbnail is stored beside the image')
  for (const [user, peer] of [[carol, dave], [dave, carol]] as const) {
    await user.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: peer.id } } })
  }
  t.notOk(existsSync(join(filesDir, id)), 'the image is gone')
  t.notOk(existsSync(join(filesDir, `${id}.thumbnail`)), 'and its thumbnail')
})
