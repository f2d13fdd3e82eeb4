// Reads the upload form (optional field `id`, then part `file`) from a multipart stream, staging the file's bytes.
import type { Multipart } from '@fastify/multipart'
import { AppError } from '../../errors.ts'
import { isUuid } from '../../schemas/common.ts'
import { sanitizeFileName } from './names.ts'
import type { Readable } from 'node:stream'
import type { StagedUpload } from './storage.ts'

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/

export interface UploadForm<S extends StagedUpload = StagedUpload> {
  /** The client-chosen message id, lower case. */
  id: string | undefined
  /** Sanitized for display. */
  name: string
  /** The part's declared media type when it is a plain, valid one. */
  declaredType: string | undefined
  staged: S
}

/** Reads every part; on any failure the staged bytes are removed before the error goes on. */
export async function readUploadForm<S extends StagedUpload> (parts: AsyncIterable<Multipart>, stage: (source: Readable, maxBytes: number) => Promise<S>, maxBytes: number): Promise<UploadForm<S>> {
  let id: string | undefined
  let file: Omit<UploadForm<S>, 'id'> | undefined
  try {
    for await (const part of parts) {
      if (part.type === 'field') {
        if (part.fieldname === 'file') throw invalid('body/file must be a file part (with a filename)')
        if (part.fieldname !== 'id') throw invalid(`body/${part.fieldname} is not allowed (unknown field)`)
        if (id !== undefined) throw invalid('body/id must be sent once')
        if (typeof part.value !== 'string' || !isUuid(part.value)) throw invalid('body/id must be a UUID in canonical form (8-4-4-4-12 hex digits)')
        id = part.value.toLowerCase()
        continue
      }
      if (part.fieldname !== 'file') {
        part.file.resume()
        throw invalid(`body/${part.fieldname} is not allowed: send the file as part "file"`)
      }
      const staged = await stage(part.file, maxBytes)
      file = { name: sanitizeFileName(part.filename), declaredType: declaredType(part.mimetype), staged }
      // The parser stops at the limit and marks the stream truncated rather than failing it.
      if (part.file.truncated) throw new AppError('PAYLOAD_TOO_LARGE', `The file is larger than ${maxBytes} bytes`)
    }
  } catch (err) {
    await file?.staged.discard()
    throw asClientError(err)
  }
  if (file === undefined) throw invalid('body/file is required')
  return { id, ...file }
}

function declaredType (mimetype: string | undefined): string | undefined {
  const type = mimetype?.toLowerCase()
  return type !== undefined && MEDIA_TYPE.test(type) && type !== 'application/octet-stream' ? type : undefined
}

function invalid (message: string): AppError {
  return new AppError('VALIDATION_ERROR', message)
}

/** A broken multipart body is the client's fault (400); disk and other system errors stay 500s. */
function asClientError (err: unknown): unknown {
  if (err instanceof AppError) return err
  const { statusCode, syscall } = err as { statusCode?: number, syscall?: string }
  if (statusCode !== undefined || syscall !== undefined) return err
  return new AppError('VALIDATION_ERROR', `The multipart body is malformed: ${(err as Error).message}`)
}
