// Request and response shapes of the file routes.
import { Type } from '@sinclair/typebox'
import { Binary, Uuid } from '../../schemas/common.ts'

export const FileParamsSchema = Type.Object({ fileId: Uuid() })

export const IfNoneMatchHeadersSchema = Type.Object({
  'if-none-match': Type.Optional(Type.String({ maxLength: 1024, description: 'ETags you hold; when one matches, the answer is 304 with no body.' }))
})

export const FileBytesResponseSchema = {
  description: 'The bytes, with the stored Content-Type.',
  headers: {
    'content-type': Type.String({ maxLength: 255, description: 'The stored media type (sniffed for images and avatars).' }),
    'content-length': Type.Integer({ format: 'int64', minimum: 0, maximum: 2 ** 40, description: 'Size in bytes.' }),
    'content-disposition': Type.String({ maxLength: 1024, description: '`attachment` for files, `inline` for images and avatars; RFC 6266 with `filename*=UTF-8\'\'...` for non-ASCII names.' }),
    etag: Type.String({ maxLength: 66, description: 'A strong validator (the SHA-256 of the bytes); send it back in If-None-Match.' }),
    'cache-control': Type.Literal('private, no-cache', { description: 'Kept by the browser only, revalidated with the ETag.' }),
    'x-content-type-options': Type.Literal('nosniff')
  },
  content: { '*/*': { schema: Binary('The bytes.') } }
}
