// Where uploaded bytes live: a small interface (an object store can implement it later) and a local directory
// implementation, `${DATA_DIR}/files`, which several instances can share.
import { createHash, type Hash, randomUUID } from 'node:crypto'
import { type FileHandle, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { type Readable, Transform, type TransformCallback } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { AppError } from '../../errors.ts'
import { UUID_BODY } from '../../schemas/common.ts'

/** How many leading bytes are kept for content sniffing (what file-type reads). */
export const HEAD_BYTES = 4100

/** Bytes received and held aside until the change that refers to them commits. */
export interface StagedUpload {
  readonly size: number
  /** Hex SHA-256 of the bytes. */
  readonly sha256: string
  /** The first bytes, for sniffing the content type. */
  readonly head: Buffer
  /** Makes the bytes readable under `key`. */
  commit: (key: string) => Promise<void>
  /** Removes the bytes, staged or committed; safe to call more than once. */
  discard: () => Promise<void>
}

export interface StoredObject {
  /** The bytes asked for: all, or the range. */
  stream: Readable
  /** The whole object's size. */
  size: number
}

/** Inclusive byte offsets, as HTTP's Range counts them. */
export interface ByteRange {
  start: number
  end: number
}

/**
 * Counts the bytes passing through (more than maxBytes fails it with 413 PAYLOAD_TOO_LARGE), hashes them when given
 * a hash, and keeps the first HEAD_BYTES for sniffing the content type.
 */
export class UploadMeter extends Transform {
  size = 0
  private readonly headChunks: Buffer[] = []
  private headSize = 0

  constructor (private readonly maxBytes: number, readonly hash?: Hash) {
    super()
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.size += chunk.length
    if (this.size > this.maxBytes) return callback(new AppError('PAYLOAD_TOO_LARGE', `The file is larger than ${this.maxBytes} bytes`))
    this.hash?.update(chunk)
    if (this.headSize < HEAD_BYTES) {
      this.headChunks.push(chunk.subarray(0, HEAD_BYTES - this.headSize))
      this.headSize += Math.min(chunk.length, HEAD_BYTES - this.headSize)
    }
    callback(null, chunk)
  }

  get head (): Buffer {
    return Buffer.concat(this.headChunks)
  }
}

export interface FileStorage {
  /** Streams `source` aside while counting and hashing it; more than `maxBytes` is 413 PAYLOAD_TOO_LARGE with nothing kept. */
  stage: (source: Readable, maxBytes: number) => Promise<StagedUpload>
  open: (key: string, range?: ByteRange) => Promise<StoredObject | undefined>
  remove: (key: string) => Promise<void>
  /** Deletes staged uploads untouched for `olderThanMs` (left by a crash); answers how many. */
  sweepStaged: (olderThanMs: number) => Promise<number>
}

// A file id, or a file id with a variant suffix (its thumbnail).
const KEY = new RegExp(`^${UUID_BODY}(\\.thumbnail)?$`)

export class LocalFileStorage implements FileStorage {
  private readonly tmpDir: string

  constructor (private readonly dir: string) {
    this.tmpDir = join(dir, 'tmp')
  }

  async stage (source: Readable, maxBytes: number): Promise<StagedUpload> {
    await mkdir(this.tmpDir, { recursive: true })
    // Staged in the same directory tree, so that commit is an atomic rename.
    const tmpPath = join(this.tmpDir, `${randomUUID()}.part`)
    const meter = new UploadMeter(maxBytes, createHash('sha256'))
    // Created before the copy starts: a write stream opens its file asynchronously, so a copy failing at once
    // could otherwise create the file after the clean-up below had run.
    const handle = await open(tmpPath, 'wx')
    try {
      await pipeline(source, meter, handle.createWriteStream())
    } catch (err) {
      await handle.close().catch(() => {})
      await unlinkIfPresent(tmpPath)
      throw err
    }
    let path = tmpPath
    return {
      size: meter.size,
      sha256: meter.hash!.digest('hex'),
      head: meter.head,
      commit: async (key) => {
        const target = this.pathOf(key)
        await rename(path, target)
        path = target
      },
      discard: async () => { await unlinkIfPresent(path) }
    }
  }

  async open (key: string, range?: ByteRange): Promise<StoredObject | undefined> {
    let handle: FileHandle
    try {
      // Open first, then stat the open file: a concurrent remove cannot break a download already begun.
      handle = await open(this.pathOf(key), 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw err
    }
    try {
      const { size } = await handle.stat()
      return { stream: handle.createReadStream(range === undefined ? {} : { start: range.start, end: range.end }), size }
    } catch (err) {
      await handle.close()
      throw err
    }
  }

  async remove (key: string): Promise<void> {
    await unlinkIfPresent(this.pathOf(key))
  }

  sweepStaged (olderThanMs: number): Promise<number> {
    return sweepStale(this.tmpDir, '.part', olderThanMs)
  }

  private pathOf (key: string): string {
    // Keys are file ids (with a variant suffix); anything else must never become a path.
    if (!KEY.test(key) || key !== key.toLowerCase()) throw new Error(`invalid storage key ${JSON.stringify(key)}`)
    return join(this.dir, key)
  }
}

async function unlinkIfPresent (path: string): Promise<void> {
  try {
    await unlink(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/**
 * Deletes the files of `dir` named `*${suffix}` not modified for `olderThanMs`; answers how many. Only old ones: a
 * directory several instances share may hold another instance's upload in progress (written to, so recent).
 */
export async function sweepStale (dir: string, suffix: string, olderThanMs: number): Promise<number> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
  const before = Date.now() - olderThanMs
  let swept = 0
  for (const name of names) {
    if (!name.endsWith(suffix)) continue
    const path = join(dir, name)
    try {
      if ((await stat(path)).mtimeMs >= before) continue
      await unlink(path)
      swept++
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return swept
}
