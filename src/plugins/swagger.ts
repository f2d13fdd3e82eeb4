// The OpenAPI document, generated from the route schemas, served at /openapi.json with Swagger UI at /docs.
import fastifySwagger from '@fastify/swagger'
import fastifySwaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { addLimitsToDocument } from './openapi-limits.ts'
import { documentSecurityHeaders } from './security-headers.ts'

export const API_DESCRIPTION = `A self-hosted chat API: REST for every request, Server-Sent Events (GET /events) for everything the server tells a user.

**Auth**: register or log in to get a bearer token; send it as \`Authorization: Bearer <token>\`. GET /events also takes it as the \`access_token\` query parameter, for browsers' EventSource.

**Errors**: every 4xx and 5xx response is an \`ErrorResponse\` whose \`code\` is stable. Unknown JSON properties are rejected (400), as are NUL characters and unpaired UTF-16 surrogates in any string (400: neither can be stored exactly as sent). JSON bodies are limited to 1 MiB (413); a body in a media type an endpoint does not take is 415. While the database cannot be reached, a request that needs it is 503 \`DATABASE_UNAVAILABLE\` with \`Retry-After\` (retry, on any instance). A request that reaches an instance while it stops is 503 \`SERVICE_UNAVAILABLE\` with \`Retry-After\` and \`Connection: close\` (retry, on any instance).

**Events**: each durable event has a per-user id that strictly increases; reconnect with \`Last-Event-ID\` to receive exactly what you missed. See \`StreamEvent\` for every frame.`

/**
 * /docs gets its own Content Security Policy, helmet's with one addition: Swagger UI's bundle inserts one fixed
 * <style> element, allowed by its hash (Chromium names the hash in its console error when the bundle changes).
 * Nothing from other hosts: the online validator badge is off (validatorUrl null).
 */
const DOCS_CSP = {
  'default-src': ["'self'"],
  'base-uri': ["'self'"],
  'font-src': ["'self'", 'data:'],
  'form-action': ["'self'"],
  'frame-ancestors': ["'self'"],
  'img-src': ["'self'", 'data:'],
  'object-src': ["'none'"],
  'script-src': ["'self'"],
  'script-src-attr': ["'none'"],
  'style-src': ["'self'", "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='"],
  'upgrade-insecure-requests': []
}

function completeDocument<T extends object> (document: T): T {
  const completed = addLimitsToDocument(document as Parameters<typeof addLimitsToDocument>[0] & { servers?: Array<Record<string, unknown>> })
  // The document is public: the same one for every deployment.
  for (const server of completed.servers ?? []) server['x-internal'] = false
  return completed as T
}

async function swaggerPlugin (app: FastifyInstance, options: { version: string }) {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Chat API',
        version: options.version,
        description: API_DESCRIPTION,
        license: { name: 'MIT', identifier: 'MIT' }
      },
      // Every deployment (local, staging or production) serves its own document: the server is wherever it came from.
      servers: [{ url: '/', description: 'This server: the one serving this document, whether local, staging or production.' }],
      tags: [
        { name: 'auth', description: 'Registration, login and sessions' },
        { name: 'users', description: 'Your profile, and finding other users' },
        { name: 'contacts', description: 'Your personal address book' },
        { name: 'blocking', description: 'Blocking users: neither side can reach the other' },
        { name: 'conversations', description: 'Messages, history, read receipts' },
        { name: 'files', description: 'Downloading uploaded files and images' },
        { name: 'events', description: 'The per-user Server-Sent Events stream' },
        { name: 'operations', description: 'Health and documentation' }
      ],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token from register, login or token-login: a JWS (JWT) signed with HS256 only, following the JSON Web Token Best Current Practices of RFC8725 (RFC 8725): the algorithm is fixed server-side (never taken from the token, `none` refused), the token names a server-side session checked on every request, and it expires.' }
        }
      }
    },
    transformObject: (document) => 'openapiObject' in document ? completeDocument(document.openapiObject) : document.swaggerObject,
    refResolver: {
      // Shared schemas keep their $id as their component name: #/components/schemas/User, ...
      buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
    }
  })
  // Swagger UI is a document: helmet's headers, under the policy above.
  await app.register(async (docs) => {
    docs.addHook('onRequest', documentSecurityHeaders)
    await docs.register(fastifySwaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP })
  })
  app.get('/openapi.json', {
    schema: { hide: true }
  }, async () => app.swagger())
}

export default fp(swaggerPlugin, { name: 'swagger' })
