// Request and response shapes of the file routes, and how a multipart form is documented.
import { type TSchema, Type } from '@sinclair/typebox'
import type { FastifySchema } from 'fastify'
import { Uuid } from '../../schemas/common.ts'

export const FileParamsSchema = Type.Object({ fileId: Uuid() })

export const IfNoneMatchHeadersSchema = Type.Object({
  'if-none-match': Type.Optional(Type.String({ description: 'ETags you hold; when one matches, the answer is 304 with no body.' }))
})

export const UploadFormSchema = Type.Object({
  id: Type.Optional(Uuid('Optional client-chosen message id, sent before `file`: a retry with the same id and the same file (name, size, SHA-256) is answered 200 with the stored message and stores nothing again; the same id with anything different is 409 MESSAGE_ID_CONFLICT.')),
  file: Type.String({ format: 'binary', description: 'The file. Its name (from the part\'s filename) is kept for display: base name only, control characters removed, at most 255 UTF-8 bytes ("file" when nothing is left).' })
}, { additionalProperties: false })

export const AvatarFormSchema = Type.Object({
  file: Type.String({ format: 'binary', description: 'A PNG, JPEG, GIF or WebP image, judged by its bytes.' })
}, { additionalProperties: false })

/**
 * These routes read their multipart body as a stream (request.parts()), so Fastify has no body to validate;
 * the form is added to the OpenAPI document only, so generated clients can upload.
 */
export function documentMultipartBody (form: TSchema) {
  return ({ schema, url }: { schema: FastifySchema, url: string }) =>
    ({ url, schema: { ...schema, consumes: ['multipart/form-data'], body: form } as FastifySchema })
}

export const FileBytesResponseSchema = {
  description: 'The bytes, with the stored Content-Type.',
  headers: {
    'content-type': Type.String({ description: 'The stored media type (sniffed for images and avatars).' }),
    'content-length': Type.Integer({ description: 'Size in bytes.' }),
    'content-disposition': Type.String({ description: '`attachment` for files, `inline` for images and avatars; RFC 6266 with `filename*=UTF-8\'\'...` for non-ASCII names.' }),
    etag: Type.String({ description: 'A strong validator (the SHA-256 of the bytes); send it back in If-None-Match.' }),
    'cache-control': Type.String({ description: '`private, no-cache`: kept by the browser only, revalidated with the ETag.' }),
    'x-content-type-options': Type.Literal('nosniff')
  },
  content: { '*/*': { schema: Type.String({ format: 'binary' }) } }
}
