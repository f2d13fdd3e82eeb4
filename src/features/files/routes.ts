// GET and HEAD /files/{fileId} and /files/{fileId}/thumbnail: downloads with the bearer token (the parties of the
// message, or anyone signed in for avatars), or with a signed link and no token; conditional and range requests.
import { Type } from '@sinclair/typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { AppError, fail } from '../../errors.ts'
import { errorResponse } from '../../schemas/common.ts'
import type { App } from '../../types.ts'
import { noneMatchHolds, requestedRange } from './http.ts'
import type { FileLinks, LinkVariant } from './links.ts'
import { contentDisposition, downloadName } from './names.ts'
import { DownloadHeadersSchema, FileBytesResponseSchema, FileParamsSchema, HeadResponseSchema, PartialBytesResponseSchema, SignedLinkQuerySchema } from './schemas.ts'
import type { FileRow, FilesService } from './service.ts'

type DownloadRequest = FastifyRequest<{
  Params: { fileId: string }
  Querystring: { exp?: string, sig?: string }
  Headers: { 'if-none-match'?: string, range?: string, 'if-range'?: string }
}>

const ACCESS = 'With the bearer token, only the sender and the receiver of the message carrying the file may download it (404 FILE_NOT_FOUND for anyone else, so its existence does not leak); avatars may be read by any signed-in user. With `exp` and `sig` (a signed link from a FileRef or an avatarUrl) no token is needed until `exp`; an expired or altered link is 401 LINK_INVALID.'
const CONDITIONAL = 'Answers 304 when If-None-Match holds the ETag; a single byte Range is answered 206 (416 RANGE_NOT_SATISFIABLE when it starts past the end).'

function operation (variant: Exclude<LinkVariant, 'avatar'>, head: boolean) {
  const thumbnail = variant === 'thumbnail'
  const what = thumbnail ? 'an image\'s thumbnail' : 'a file, image or avatar'
  return {
    operationId: `${head ? 'head' : 'download'}${thumbnail ? 'Thumbnail' : 'File'}`,
    summary: `${head ? 'Headers of' : 'Download'} ${what}`,
    description: [
      thumbnail ? 'A WebP of at most 320x320 pixels (aspect kept), made at upload; images only (404 FILE_NOT_FOUND for files).' : 'Files are `attachment`; images and avatars `inline`, their name ending in the extension of their real type.',
      ACCESS,
      CONDITIONAL,
      'HEAD answers the same headers as GET, without the body.'
    ].join(' '),
    tags: ['files'],
    security: [{ bearerAuth: [] }, {}] as Array<Record<string, string[]>>,
    params: FileParamsSchema,
    querystring: SignedLinkQuerySchema,
    headers: DownloadHeadersSchema,
    response: {
      200: head ? HeadResponseSchema : FileBytesResponseSchema,
      206: head ? { ...HeadResponseSchema, description: 'The headers of the range answer, without the body.' } : PartialBytesResponseSchema,
      304: Type.Null({ description: 'Not modified: the ETag in If-None-Match is current. No body.' }),
      400: errorResponse('VALIDATION_ERROR: fileId is not a UUID.'),
      401: errorResponse('AUTH_REQUIRED or TOKEN_INVALID (no signed link and no valid token); LINK_INVALID (the signed link is expired or altered).'),
      404: errorResponse('FILE_NOT_FOUND'),
      416: errorResponse('RANGE_NOT_SATISFIABLE: the range starts past the end; Content-Range gives the size.')
    }
  }
}

export default async function filesRoutes (app: App, { files, links }: { files: FilesService, links: FileLinks }) {
  // A signed link stands in for the token; the handler checks it once the fileId is validated.
  app.addHook('onRequest', async (request) => {
    const query = request.query as { exp?: unknown, sig?: unknown }
    if (query.exp === undefined && query.sig === undefined) await app.authenticate(request)
  })

  async function find (request: DownloadRequest, variant: Exclude<LinkVariant, 'avatar'>): Promise<FileRow> {
    const { fileId } = request.params
    const { exp, sig } = request.query
    if (exp === undefined && sig === undefined) return files.readable(request.auth.userId, fileId)
    if (links.verify(fileId, variant, exp, sig)) return files.get(fileId)
    // An avatar link opens the file only while it is an avatar (see LinkVariant).
    if (variant === 'original' && links.verify(fileId, 'avatar', exp, sig)) {
      const file = await files.get(fileId)
      if (file.kind === 'avatar') return file
      fail('FILE_NOT_FOUND')
    }
    fail('LINK_INVALID')
  }

  const serve = (variant: Exclude<LinkVariant, 'avatar'>, head: boolean) => async (request: DownloadRequest, reply: FastifyReply) => {
    const file = await find(request, variant)
    const thumbnail = variant === 'thumbnail'
    if (thumbnail && file.thumbnailSize === null) fail('FILE_NOT_FOUND')
    const size = thumbnail ? file.thumbnailSize! : file.size
    const etag = thumbnail ? `"${file.sha256}-thumbnail"` : `"${file.sha256}"`
    reply.header('etag', etag)
      .header('cache-control', 'private, no-cache')
      .header('accept-ranges', 'bytes')
      .header('x-content-type-options', 'nosniff')
    if (noneMatchHolds(request.headers['if-none-match'], etag)) return reply.code(304).send(null)
    const range = requestedRange(request.headers.range, request.headers['if-range'], etag, size)
    if (range === 'unsatisfiable') {
      const error = new AppError('RANGE_NOT_SATISFIABLE')
      return reply.code(416).header('content-range', `bytes */${size}`)
        .send({ statusCode: 416, code: error.code, error: 'Range Not Satisfiable', message: error.message })
    }
    reply.header('content-type', thumbnail ? 'image/webp' : file.mimeType)
      .header('content-disposition', contentDisposition(file.kind === 'file' && !thumbnail ? 'attachment' : 'inline', downloadName(file, variant)))
      .header('content-length', range === undefined ? size : range.end - range.start + 1)
    if (range !== undefined) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`)
    // HEAD: the headers only; Fastify keeps the Content-Length set above.
    if (head) return reply.send()
    const stored = await files.content(file, variant, range)
    // The response schema types the body as a string; Fastify streams a Readable as is.
    return reply.send(stored.stream as never)
  }

  for (const variant of ['original', 'thumbnail'] as const) {
    const url = variant === 'thumbnail' ? '/files/:fileId/thumbnail' : '/files/:fileId'
    app.get(url, { exposeHeadRoute: false, schema: operation(variant, false) }, serve(variant, false))
    app.head(url, { schema: operation(variant, true) }, serve(variant, true))
  }
}
