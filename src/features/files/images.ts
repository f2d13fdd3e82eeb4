// Images at upload (sharp/libvips): the type judged by the bytes, the size read from the header before any pixel
// is decoded, orientation applied and metadata stripped by re-encoding, animations kept, a WebP thumbnail made;
// both results are staged through the storage interface. At most `concurrency` images (default one; libvips
// already spreads one over every core) are decoded at once, which bounds their memory (README: Images).
import { randomUUID } from 'node:crypto'
import { mkdir, open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import sharp, { type OutputInfo, type Sharp } from 'sharp'
import { AppError } from '../../errors.ts'
import { sniffedType } from './sniff.ts'
import { type FileStorage, type StagedUpload, sweepStale, UploadMeter } from './storage.ts'

/** The contract's limit for one image (one frame of an animation). */
export const MAX_IMAGE_PIXELS = 50_000_000
/** All frames of an animation together: what bounds the memory an animated image may take. */
export const MAX_ANIMATION_PIXELS = 100_000_000
export const THUMBNAIL_SIZE = 320
export const AVATAR_SIZE = 512
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'] as const

const FORMATS: Record<string, { mimeType: string, encode: (image: Sharp) => Sharp }> = {
  jpeg: { mimeType: 'image/jpeg', encode: (image) => image.jpeg({ quality: 90 }) },
  png: { mimeType: 'image/png', encode: (image) => image.png() },
  gif: { mimeType: 'image/gif', encode: (image) => image.gif() },
  webp: { mimeType: 'image/webp', encode: (image) => image.webp({ quality: 90 }) }
}

/** A stored image: the re-encoded bytes, and for message images a thumbnail committed beside them. */
export interface StagedImage extends StagedUpload {
  mimeType: string
  width: number
  height: number
  thumbnailSize: number | null
}

export class ImageProcessor {
  private active = 0
  private readonly waiting: Array<() => void> = []

  constructor (
    private readonly storage: FileStorage,
    /** A local directory for the upload while it is decoded (libvips reads it from disk, not from memory). */
    private readonly workDir: string,
    private readonly concurrency = 1
  ) {
    // libvips' operation cache would keep decoded images alive after their upload ended.
    sharp.cache(false)
  }

  /** Deletes uploads left in the work directory (by a crash) untouched for `olderThanMs`; answers how many. */
  sweepWork (olderThanMs: number): Promise<number> {
    return sweepStale(this.workDir, '.upload', olderThanMs)
  }

  /** Receives an image upload (at most maxBytes), checks and re-encodes it, and stages the result and its thumbnail. */
  async stage (source: Readable, maxBytes: number, use: 'image' | 'avatar'): Promise<StagedImage> {
    await mkdir(this.workDir, { recursive: true })
    const path = join(this.workDir, `${randomUUID()}.upload`)
    try {
      const head = await receive(source, path, maxBytes)
      // The parser stops at its limit and marks the stream truncated rather than failing it.
      if ((source as { truncated?: boolean }).truncated === true) throw new AppError('PAYLOAD_TOO_LARGE', `The file is larger than ${maxBytes} bytes`)
      // Judged by the bytes before libvips sees them: it also reads SVG, PDF, TIFF... which are not accepted.
      const sniffed = await sniffedType(head)
      if (sniffed === undefined || !(IMAGE_TYPES as readonly string[]).includes(sniffed)) throw new AppError('UNSUPPORTED_IMAGE')
      await this.acquire()
      try {
        return await this.process(path, maxBytes, use)
      } finally {
        this.release()
      }
    } finally {
      await unlink(path).catch(() => {})
    }
  }

  private async process (path: string, maxBytes: number, use: 'image' | 'avatar'): Promise<StagedImage> {
    const meta = await sharp(path, { limitInputPixels: false }).metadata().catch(() => { throw new AppError('UNSUPPORTED_IMAGE', 'The image could not be read') })
    const format = meta.format === undefined ? undefined : FORMATS[meta.format]
    if (format === undefined) throw new AppError('UNSUPPORTED_IMAGE')
    // metadata() reads the header only: the decision is taken before a single pixel is decoded.
    const frameHeight = meta.pageHeight ?? meta.height
    const frames = meta.pages ?? 1
    if (meta.width * frameHeight > MAX_IMAGE_PIXELS) throw new AppError('IMAGE_TOO_LARGE', `The image is ${meta.width}x${frameHeight}: more than 50 megapixels`)
    const animated = frames > 1 && (meta.format === 'gif' || meta.format === 'webp')
    if (animated && meta.width * frameHeight * frames > MAX_ANIMATION_PIXELS) throw new AppError('IMAGE_TOO_LARGE', `The animation has more than ${MAX_ANIMATION_PIXELS / 1e6} megapixels in all its frames`)

    // A re-encode can outgrow the upload a little (a PNG recompressed); it still has a bound.
    const maxStored = maxBytes * 2 + 1024 * 1024
    let image = sharp(path, { animated, limitInputPixels: animated ? MAX_ANIMATION_PIXELS : MAX_IMAGE_PIXELS }).autoOrient()
    if (use === 'avatar') image = image.resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'inside', withoutEnlargement: true })
    // Output carries no metadata (EXIF, GPS, XMP, comments) unless asked to keep it; the colour profile is
    // applied by converting to sRGB.
    const output = format.encode(image)
    let size = { width: 0, height: 0 }
    output.on('info', (info: OutputInfo) => { size = { width: info.width, height: info.pageHeight ?? info.height } })
    const staged = await this.storage.stage(output, maxStored).catch(decodeError)
    let thumbnail: StagedUpload | undefined
    try {
      if (use === 'image') {
        // A still of the first frame, decoded at reduced size where the format allows it (JPEG shrink-on-load).
        const small = sharp(path, { pages: 1, limitInputPixels: MAX_IMAGE_PIXELS }).autoOrient()
          .resize(THUMBNAIL_SIZE, THUMBNAIL_SIZE, { fit: 'inside', withoutEnlargement: true })
          .webp({ quality: 75 })
        thumbnail = await this.storage.stage(small, maxStored).catch(decodeError)
      }
    } catch (err) {
      await staged.discard()
      throw err
    }
    return {
      size: staged.size,
      sha256: staged.sha256,
      head: staged.head,
      mimeType: format.mimeType,
      width: size.width,
      height: size.height,
      thumbnailSize: thumbnail?.size ?? null,
      commit: async (key) => {
        await staged.commit(key)
        await thumbnail?.commit(thumbnailKey(key))
      },
      discard: async () => {
        await Promise.all([staged.discard(), thumbnail?.discard()])
      }
    }
  }

  private async acquire (): Promise<void> {
    if (this.active < this.concurrency) {
      this.active++
      return
    }
    // The slot is handed over by release(): active stays counted.
    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  private release (): void {
    const next = this.waiting.shift()
    if (next === undefined) this.active--
    else next()
  }
}

/** Where a file's thumbnail is stored, beside the file under its id. */
export function thumbnailKey (fileId: string): string {
  return `${fileId}.thumbnail`
}

/** Copies the upload to a local file, at most maxBytes, keeping its first bytes for sniffing. */
async function receive (source: Readable, path: string, maxBytes: number): Promise<Buffer> {
  const meter = new UploadMeter(maxBytes)
  const handle = await open(path, 'wx')
  try {
    await pipeline(source, meter, handle.createWriteStream())
  } finally {
    await handle.close().catch(() => {})
  }
  return meter.head
}

/** libvips failing on the bytes (corrupt, truncated, over the pixel limit) is the upload's fault; disk errors are not. */
function decodeError (err: unknown): never {
  if (err instanceof AppError || (err as NodeJS.ErrnoException).code !== undefined) throw err
  const message = (err as Error).message
  if (/pixel limit/i.test(message)) throw new AppError('IMAGE_TOO_LARGE')
  throw new AppError('UNSUPPORTED_IMAGE', 'The image could not be decoded')
}
