// A typed HTTP client generated from openapi/openapi.json (openapi-typescript + openapi-fetch): the tests
// call the server the way a generated SDK would, and users registered through the API.
import { randomBytes } from 'node:crypto'
import createClient from 'openapi-fetch'
import type { components, paths } from '../../openapi/schema.d.ts'

export type Schemas = components['schemas']
export type ApiClient = ReturnType<typeof createClient<paths>>

export function apiClient (baseUrl: string, token?: string): ApiClient {
  return createClient<paths>({ baseUrl, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } })
}

export interface TestUser {
  id: string
  username: string
  email: string
  password: string
  token: string
  /** A client that sends this user's token. */
  api: ApiClient
}

let counter = 0

export function uniqueName (prefix = 'user'): string {
  return `${prefix}_${process.pid}_${++counter}_${randomBytes(3).toString('hex')}`.slice(0, 32)
}

export async function registerUser (baseUrl: string, overrides: { username?: string, password?: string, email?: string } = {}): Promise<TestUser> {
  const username = overrides.username ?? uniqueName()
  const password = overrides.password ?? 'correct horse battery'
  const email = overrides.email ?? `${randomBytes(6).toString('hex')}@example.com`
  const { data, error, response } = await apiClient(baseUrl).POST('/auth/register', { body: { username, password, email } })
  if (data === undefined) throw new Error(`register failed: ${response.status} ${JSON.stringify(error)}`)
  return { id: data.user.id, username, email, password, token: data.token, api: apiClient(baseUrl, data.token) }
}

/** Makes `owner` have `contact` as a contact (so the two may message each other). */
export async function addContact (owner: TestUser, contact: TestUser): Promise<void> {
  const { response } = await owner.api.POST('/contacts', { body: { userId: contact.id } })
  if (response.status !== 201) throw new Error(`add contact failed: ${response.status}`)
}

/** The claims of one of the server's tokens: the user (`sub`), the session (`sid`) and the expiry (`exp`, seconds). */
export function tokenClaims (token: string): { sub: string, sid: string, exp: number } {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sub: string, sid: string, exp: number }
}
