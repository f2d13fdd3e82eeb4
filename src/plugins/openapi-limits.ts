// Completes the generated OpenAPI document with what every limited operation shares: the RateLimit-* headers on
// its 2xx and 4xx answers, its 429, and the CORS header every answer may carry. Declared once here, not per route.

interface Header { description: string, schema: Record<string, unknown> }
interface Response { $ref?: string, description?: string, headers?: Record<string, unknown>, content?: unknown }
interface Operation { security?: unknown[], tags?: string[], responses?: Record<string, Response> }
interface Document {
  paths?: Record<string, Partial<Record<string, Operation>> | undefined>
  components?: { headers?: Record<string, unknown> } & Record<string, unknown>
}

const HEADERS: Record<string, Header> = {
  'RateLimit-Limit': {
    description: 'The budget this answer counts against, per minute (the tightest one when several apply): RATE_LIMIT_PER_MINUTE per user on authenticated endpoints, RATE_LIMIT_SENDS_PER_MINUTE for sends, uploads, reactions and typing, RATE_LIMIT_AUTH_PER_MINUTE per client address and per username for register, login and token-login.',
    schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 10000000 }
  },
  'RateLimit-Remaining': {
    description: 'What is left of that budget in the current window.',
    schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 10000000 }
  },
  'RateLimit-Reset': {
    description: 'Seconds until the window ends and the budget is whole again.',
    schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 60 }
  },
  'Retry-After': {
    description: 'Seconds to wait before trying again.',
    schema: { type: 'integer', format: 'int32', minimum: 0, maximum: 3600 }
  },
  'Access-Control-Allow-Origin': {
    description: 'Only when the request\'s Origin is one of CORS_ORIGINS (none by default): that origin, never `*`.',
    schema: { type: 'string', format: 'uri', maxLength: 2048 }
  }
}

const header = (name: string) => ({ $ref: `#/components/headers/${name}` })
const RATE_LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset']
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const

/** Authenticated operations count against the per-user budget; the public auth endpoints against theirs. */
function isLimited (operation: Operation): boolean {
  return (operation.security?.length ?? 0) > 0 || (operation.tags ?? []).includes('auth')
}

export function addLimitsToDocument<T extends Document> (document: T): T {
  document.components = { ...document.components, headers: { ...document.components?.headers, ...HEADERS } }
  for (const item of Object.values(document.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item?.[method]
      if (operation === undefined) continue
      const limited = isLimited(operation)
      const responses = operation.responses ?? {}
      if (limited && responses['429'] === undefined) {
        responses['429'] = {
          description: 'RATE_LIMITED: over the budget named by RateLimit-Limit; see Retry-After.',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } }
        }
      }
      for (const [status, response] of Object.entries(responses)) {
        if (response.$ref !== undefined) continue
        const headers: Record<string, unknown> = { ...response.headers, 'Access-Control-Allow-Origin': header('Access-Control-Allow-Origin') }
        if (limited && /^[24]/.test(status)) for (const name of RATE_LIMIT_HEADERS) headers[name] = header(name)
        if (status === '429' || status === '503') headers['Retry-After'] = header('Retry-After')
        response.headers = headers
      }
      operation.responses = responses
    }
  }
  return document
}
