// GET /files/{fileId}: downloads, for the parties of the message or, for avatars, anyone signed in.
import { Type } from '@sinclair/typebox'
import { errorResponse, unauthorizedResponse } from '../../schemas/common.ts'
import type { App } from '../../types.ts'
import { contentDisposition, imageDownloadName } from './names.ts'
import { FileBytesResponseSchema, FileParamsSchema, IfNoneMatchHeadersSchema } from './schemas.ts'
import type { FilesService } from './service.ts'

/** Weak comparison (RFC 9110 8.8.3.2), as If-None-Match asks for. */
function matches (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const opaque = etag.replace(/^W\//, '')
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim()
    return tag === '*' || tag.replace(/^W\//, '') === opaque
  })
}

export default async function filesRoutes (app: App, { files }: { files: FilesService }) {
  app.addHook('onRequest', app.authenticate)

  app.get('/files/:fileId', {
    // HEAD would open the file only to drop it.
    exposeHeadRoute: false,
    schema: {
      operationId: 'downloadFile',
      summary: 'Download a file, image or avatar',
      description: 'Only the sender and the receiver of the message carrying the file may download it (404 FILE_NOT_FOUND for anyone else, so its existence does not leak); avatars may be read by any signed-in user. Files are `attachment`, images and avatars `inline`. Answers 304 when If-None-Match holds the ETag.',
      tags: ['files'],
      security: [{ bearerAuth: [] }],
      params: FileParamsSchema,
      headers: IfNoneMatchHeadersSchema,
      response: {
        200: FileBytesResponseSchema,
        304: Type.Null({ description: 'Not modified: the ETag in If-None-Match is current. No body.' }),
        400: errorResponse('VALIDATION_ERROR: fileId is not a UUID.'),
        401: unauthorizedResponse,
        404: errorResponse('FILE_NOT_FOUND')
      }
    }
  }, async (request, reply) => {
    const { file, content } = await files.open(request.auth.userId, request.params.fileId)
    const etag = `"${file.sha256}"`
    reply.header('etag', etag)
      .header('cache-control', 'private, no-cache')
      .header('x-content-type-options', 'nosniff')
    if (matches(request.headers['if-none-match'], etag)) return reply.code(304).send(null)
    const stored = await content()
    return reply
      .header('content-type', file.mimeType)
      .header('content-length', stored.size)
      .header('content-disposition', file.kind === 'file' ? contentDisposition('attachment', file.name) : contentDisposition('inline', imageDownloadName(file.name, file.mimeType)))
      // The response schema types the body as a string; Fastify streams a Readable as is.
      .send(stored.stream as never)
  })
}
