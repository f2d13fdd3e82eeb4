// U, uploads: file upload throughput (MiB/s) for 1 MiB and 10 MiB files, and images/s for a 12-megapixel JPEG
// (decoded, re-encoded without metadata, thumbnailed), with the server's peak RSS during each run.
import { randomBytes } from 'node:crypto'
import sharp from 'sharp'
import { Api, type BenchUser } from '../lib/api.ts'
import { type StageContext, warmupSeconds } from '../lib/context.ts'
import { percentile } from '../lib/measure.ts'
import { readRss, type Server, startChatServer } from '../lib/processes.ts'

export interface UploadRun {
  /** Bytes of one upload. */
  bytes: number
  concurrency: number
  uploads: number
  uploadsPerSec: number
  mibPerSec: number
  latencyP50Ms: number
  latencyP99Ms: number
  errors: number
  firstError?: string
  /** Server RSS before the run and its peak during it. */
  rssBeforeBytes: number
  rssPeakBytes: number
}

export interface UploadsResult {
  file1MiB: UploadRun
  file10MiB: UploadRun
  image12MP: UploadRun & { width: number, height: number }
}

const MiB = 1024 * 1024
const BOUNDARY = '----chat-bench-upload-boundary'
/** Stops a run early once this much was uploaded: the disk holds every stored file until the stage ends. */
const MAX_BYTES_PER_RUN = 3 * 1024 * MiB

/** One multipart body, built once: the generator spends its time sending, not encoding. */
function multipartBody (bytes: Buffer, name: string, type: string): Buffer {
  return Buffer.concat([
    Buffer.from(`--${BOUNDARY}\r\ncontent-disposition: form-data; name="file"; filename="${name}"\r\ncontent-type: ${type}\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${BOUNDARY}--\r\n`)
  ])
}

/** A 4000x3000 photo-like JPEG: smooth gradients with some noise, so it compresses like a photo (a few MiB). */
async function twelveMegapixelJpeg (): Promise<Buffer> {
  const width = 4000
  const height = 3000
  const raw = Buffer.alloc(width * height * 3)
  const noise = randomBytes(width * height)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 3
      const n = noise[y * width + x]! >> 4
      raw[at] = ((x * 255) / width + n) & 255
      raw[at + 1] = ((y * 255) / height + n) & 255
      raw[at + 2] = (((x + y) * 128) / (width + height) + n) & 255
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).withMetadata({ orientation: 1 }).toBuffer()
}

async function run (api: Api, server: Server, sender: BenchUser, path: string, body: Buffer, bytes: number, concurrency: number, seconds: number): Promise<UploadRun> {
  const send = async () => {
    const response = await api.pool.request({
      method: 'POST',
      path,
      headers: { authorization: `Bearer ${sender.token}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      body
    })
    const text = await response.body.text()
    return { status: response.statusCode, text }
  }
  // Warm-up: the first uploads also load sharp/libvips and fill the JIT.
  const warmUntil = performance.now() + warmupSeconds(seconds) * 1000
  while (performance.now() < warmUntil) await send()

  const rssBeforeBytes = readRss(server.pid)
  let rssPeakBytes = rssBeforeBytes
  const sampler = setInterval(() => { rssPeakBytes = Math.max(rssPeakBytes, readRss(server.pid)) }, 20)
  const latencies: number[] = []
  let errors = 0
  let firstError: string | undefined
  const start = performance.now()
  const end = start + seconds * 1000
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < end && latencies.length * bytes < MAX_BYTES_PER_RUN) {
      const t0 = performance.now()
      const { status, text } = await send()
      if (status === 201) latencies.push(performance.now() - t0)
      else {
        errors++
        firstError ??= `${status} ${text.slice(0, 200)}`
      }
    }
  }))
  const elapsed = (performance.now() - start) / 1000
  clearInterval(sampler)
  rssPeakBytes = Math.max(rssPeakBytes, readRss(server.pid))
  latencies.sort((a, b) => a - b)
  return {
    bytes,
    concurrency,
    uploads: latencies.length,
    uploadsPerSec: latencies.length / elapsed,
    mibPerSec: latencies.length * bytes / MiB / elapsed,
    latencyP50Ms: percentile(latencies, 0.5),
    latencyP99Ms: percentile(latencies, 0.99),
    errors,
    ...(firstError === undefined ? {} : { firstError }),
    rssBeforeBytes,
    rssPeakBytes
  }
}

export async function runUploads (ctx: StageContext): Promise<UploadsResult> {
  const { settings } = ctx
  let server: Server | undefined
  let api: Api | undefined
  try {
    server = await startChatServer('server', {
      databaseUrl: ctx.db.url,
      jwtSecret: ctx.jwtSecret,
      dataDir: ctx.dataDir,
      nodeArgs: settings.serverNodeArgs,
      // Uploads are counted against the send budgets where those exist: the stage measures the pipeline, not them.
      env: { RATE_LIMIT_SENDS_PER_MINUTE: '1000000', RATE_LIMIT_PER_MINUTE: '1000000', STORAGE_QUOTA_BYTES: String(2 ** 40) }
    })
    api = new Api(server.url)
    const [sender, receiver] = await api.registerMany('u', 2)
    await api.addContact(sender!, receiver!)
    const files = `/conversations/${receiver!.id}/files`
    const images = `/conversations/${receiver!.id}/images`

    ctx.log('file uploads: 1 MiB, 4 in flight')
    const file1MiB = await run(api, server, sender!, files, multipartBody(randomBytes(MiB), 'one.bin', 'application/octet-stream'), MiB, 4, settings.seconds)
    ctx.log('file uploads: 10 MiB, 4 in flight')
    const file10MiB = await run(api, server, sender!, files, multipartBody(randomBytes(10 * MiB), 'ten.bin', 'application/octet-stream'), 10 * MiB, 4, settings.seconds)
    const photo = await twelveMegapixelJpeg()
    ctx.log(`image uploads: a 4000x3000 JPEG of ${(photo.length / MiB).toFixed(1)} MiB, 2 in flight`)
    const image = await run(api, server, sender!, images, multipartBody(photo, 'photo.jpg', 'image/jpeg'), photo.length, 2, settings.seconds)
    return { file1MiB, file10MiB, image12MP: { ...image, width: 4000, height: 3000 } }
  } finally {
    await api?.close()
    await server?.stop()
  }
}
