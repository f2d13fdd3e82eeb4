// Shared TypeBox atoms: ids, timestamps, the error shape, and the helper that references a registered schema.
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { ERROR_CODES } from '../errors.ts'

/** References a schema registered with app.addSchema (it becomes #/components/schemas/<$id> in OpenAPI). */
export function ref<T extends TSchema> (schema: T) {
  if (schema.$id === undefined) throw new Error('ref() needs a schema with $id')
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id))
}

export const Uuid = (description?: string) => Type.String({ format: 'uuid', description })
export const Timestamp = (description?: string) => Type.String({ format: 'date-time', description })

export const ErrorResponseSchema = Type.Object({
  statusCode: Type.Integer({ description: 'The HTTP status code, repeated.' }),
  code: Type.String({ enum: ERROR_CODES, description: 'Stable machine-readable error code.' }),
  error: Type.String({ description: 'The HTTP status text, e.g. "Conflict".' }),
  message: Type.String({ description: 'Human-readable explanation; for validation errors it names the offending field.' })
}, { $id: 'ErrorResponse', description: 'Every 4xx and 5xx response has this shape.' })

export type ErrorResponse = Static<typeof ErrorResponseSchema>

/** A response entry for an error status, listing the codes the route can answer with. */
export function errorResponse (description: string) {
  return { ...ref(ErrorResponseSchema), description }
}

/** The 401 of every authenticated route. */
export const unauthorizedResponse = errorResponse('AUTH_REQUIRED or TOKEN_INVALID.')
