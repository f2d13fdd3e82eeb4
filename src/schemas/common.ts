// Shared TypeBox atoms: ids, timestamps, the error shape, the input guard, and the helper that references a registered schema.
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { ERROR_CODES } from '../errors.ts'

/** References a schema registered with app.addSchema (it becomes #/components/schemas/<$id> in OpenAPI). */
export function ref<T extends TSchema> (schema: T) {
  if (schema.$id === undefined) throw new Error('ref() needs a schema with $id')
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id))
}

/**
 * The one id pattern: a UUID in canonical form (8-4-4-4-12 hex digits), nothing before or after. Ajv's
 * `format: 'uuid'` alone also takes a `urn:uuid:` prefix, which PostgreSQL's uuid type rejects.
 */
export const UUID_BODY = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'
export const UUID_PATTERN = `^${UUID_BODY}$`
const UUID = new RegExp(UUID_PATTERN)

export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value)

/**
 * Schema keyword of every id: the request validator lower-cases the value once it matched (ids are compared
 * without regard to case), so nothing past validation ever sees an upper-case id.
 */
export const LOWERCASE_KEYWORD = 'x-lowercase'

export const Uuid = (description?: string) => Type.String({
  format: 'uuid',
  pattern: UUID_PATTERN,
  minLength: 36,
  maxLength: 36,
  [LOWERCASE_KEYWORD]: true,
  description: description === undefined ? 'A UUID in canonical form; accepted in any case, returned in lower case.' : description
})
/** Bytes in a multipart part or a download: at most MAX_UPLOAD_BYTES, itself at most 2^40 (1 TiB). */
export const Binary = (description: string) => Type.String({ format: 'binary', maxLength: 2 ** 40, description })
/**
 * A string or null in a response. As a type list rather than anyOf: the serializer then never validates the
 * bound, so a stored value past it is still served (bounds are enforced where values come in).
 */
export const NullableString = (options: { maxLength: number, description?: string }) =>
  Type.Unsafe<string | null>({ type: ['string', 'null'], ...options })
export const Timestamp = (description?: string) => Type.String({ format: 'date-time', maxLength: 30, description })

// With the u flag a character class matches only unpaired surrogates, which UTF-8 cannot encode.
const LONE_SURROGATE = /[\ud800-\udfff]/u

/**
 * The input guard: why a string cannot be stored exactly as sent in PostgreSQL text (a NUL character, an
 * unpaired surrogate), or undefined when it can.
 */
export function unstorable (text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain a NUL character'
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (it has an unpaired surrogate)'
  return undefined
}

/** Strips what the input guard rejects, for text the server keeps but must not refuse (uploaded file names). */
export function storable (text: string): string {
  return text.replaceAll('\u0000', '').replace(new RegExp(LONE_SURROGATE, 'gu'), '')
}

/** The longest error message (in characters): what it echoes of the request is cut to fit. */
export const ERROR_MESSAGE_MAX = 1024

export const ErrorResponseSchema = Type.Object({
  statusCode: Type.Integer({ format: 'int32', minimum: 400, maximum: 599, description: 'The HTTP status code, repeated.' }),
  code: Type.String({ enum: ERROR_CODES, description: 'Stable machine-readable error code.' }),
  error: Type.String({ maxLength: 64, description: 'The HTTP status text, e.g. "Conflict".' }),
  message: Type.String({ maxLength: ERROR_MESSAGE_MAX, description: 'Human-readable explanation; for validation errors it names the offending field (a long name or path is cut, ending in …).' })
}, { $id: 'ErrorResponse', description: 'Every 4xx and 5xx response has this shape.' })

export type ErrorResponse = Static<typeof ErrorResponseSchema>

/** A response entry for an error status, listing the codes the route can answer with. */
export function errorResponse (description: string) {
  return { ...ref(ErrorResponseSchema), description }
}

/** The 401 of every authenticated route. */
export const unauthorizedResponse = errorResponse('AUTH_REQUIRED or TOKEN_INVALID.')
