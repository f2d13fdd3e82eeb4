// Request and response shapes of the file routes.
import { Type } from '@sinclair/typebox'
import { Binary, Uuid } from '../../schemas/common.ts'

export const FileParamsSchema = Type.Object({ fileId: Uuid() })

export const SignedLinkQuerySchema = Type.Object({
  exp: Type.Optional(Type.String({ maxLength: 20, description: 'Signed links only: the expiry (Unix seconds), as handed out in downloadUrl/thumbnailUrl/avatarUrl.' })),
  sig: Type.Optional(Type.String({ maxLength: 64, description: 'Signed links only: the signature (base64url HMAC-SHA256 of the file id, the variant and exp). With exp and sig no token is needed; an expired or altered link is 401 LINK_INVALID.' }))
})

export const DownloadHeadersSchema = Type.Object({
  'if-none-match': Type.Optional(Type.String({ maxLength: 1024, description: 'ETags you hold; when one matches, the answer is 304 with no body.' })),
  range: Type.Optional(Type.String({ maxLength: 256, description: 'One byte range (`bytes=0-99`, `bytes=100-`, `bytes=-100`): answered 206, or 416 when it starts past the end. Several ranges, or another unit, get the whole file (200).' })),
  'if-range': Type.Optional(Type.String({ maxLength: 256, description: 'The ETag the client holds: Range applies only while it is current, otherwise the whole file is sent.' }))
})

const bytesHeaders = {
  'content-type': Type.String({ maxLength: 255, description: 'The stored media type (sniffed for images and avatars; image/webp for thumbnails).' }),
  'content-length': Type.Integer({ format: 'int64', minimum: 0, maximum: 2 ** 40, description: 'Size in bytes of this answer\'s body (of the range for 206).' }),
  'content-disposition': Type.String({ maxLength: 1024, description: '`attachment` for files, `inline` for images, avatars and thumbnails; an image\'s name ends in the extension of its real type; RFC 6266 with `filename*=UTF-8\'\'...` for non-ASCII names.' }),
  etag: Type.String({ maxLength: 66, description: 'A strong validator of the stored bytes; send it back in If-None-Match (or If-Range).' }),
  'cache-control': Type.Literal('private, no-cache', { description: 'Kept by the browser only, revalidated with the ETag.' }),
  'accept-ranges': Type.Literal('bytes'),
  'x-content-type-options': Type.Literal('nosniff')
}

export const FileBytesResponseSchema = {
  description: 'The bytes, with the stored Content-Type.',
  headers: bytesHeaders,
  content: { '*/*': { schema: Binary('The bytes.') } }
}

export const PartialBytesResponseSchema = {
  description: 'The requested range of the bytes.',
  headers: { ...bytesHeaders, 'content-range': Type.String({ maxLength: 64, description: '`bytes <first>-<last>/<size>`.' }) },
  content: { '*/*': { schema: Binary('The bytes.') } }
}

export const HeadResponseSchema = {
  description: 'The headers a GET would answer with, and no body.',
  headers: bytesHeaders,
  type: 'null'
}
