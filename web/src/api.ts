// The typed API client: openapi-fetch over the generated OpenAPI types, with the bearer token attached.
import createClient from 'openapi-fetch'
import type { components, paths } from '../../openapi/schema.d.ts'

export type Schemas = components['schemas']
export type User = Schemas['User']
export type PublicUser = Schemas['PublicUser']
export type Contact = Schemas['Contact']
export type Message = Schemas['Message']
export type FileRef = Schemas['FileRef']
export type Conversation = Schemas['Conversation']
export type Session = Schemas['Session']
export type SessionInfo = Schemas['SessionInfo']
export type ApiError = Schemas['ErrorResponse']
export type StreamEvent = Schemas['StreamEvent']

let token: string | null = null
let onUnauthorized: () => void = () => {}

export function setToken (value: string | null): void { token = value }
export function getToken (): string | null { return token }
/** Called when an authenticated request answers 401: the session is gone (revoked, expired). */
export function whenUnauthorized (handler: () => void): void { onUnauthorized = handler }

export const api = createClient<paths>({ baseUrl: location.origin })

api.use({
  onRequest ({ request }) {
    if (token !== null) request.headers.set('Authorization', `Bearer ${token}`)
    return request
  },
  onResponse ({ request, response }) {
    if (response.status === 401 && request.headers.has('Authorization')) onUnauthorized()
    return response
  }
})

/** A readable sentence for any failure: the server's error message, or a network problem. */
export function errorText (error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string') return error.message
  return 'Something went wrong'
}

/** A client-chosen message id, so that a retried send is stored once (crypto.randomUUID needs a secure context). */
export function newId (): string {
  const b = crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}
