// Request and response shapes of the file routes.
import { Type } from '@sinclair/typebox'
import { Uuid } from '../../schemas/common.ts'

export const FileParamsSchema = Type.Object({ fileId: Uuid() })

export const IfNoneMatchHeadersSchema = Type.Object({
  'if-none-match': Type.Optional(Type.String({ description: 'ETags you hold; when one matches, the answer is 304 with no body.' }))
})

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
