// Security headers, set through Fastify's reply headers (one object, written once with the status line). API
// answers (JSON, file downloads) get the set that means something for them (OWASP's REST Security Cheat Sheet):
// nothing may run, load or frame, no type sniffing, HTTPS only, no referrer. Event streams write their own few
// (features/events/routes.ts). Documents (the web client, /docs) get helmet's full set, computed once at start:
// helmet's defaults depend on no request. Twelve headers on every JSON answer cost a send a tenth of its CPU.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import helmet from 'helmet'

const API_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=31536000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY'
}

/** The headers helmet's middleware sets with its defaults, recorded once. */
function helmetHeaders (): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader: (name: string, value: string | number) => { headers[name.toLowerCase()] = String(value) },
    removeHeader: (name: string) => { Reflect.deleteProperty(headers, name.toLowerCase()) }
  }
  helmet()({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => { if (err) throw err })
  return headers
}

const DOCUMENT_SECURITY_HEADERS: Readonly<Record<string, string>> = helmetHeaders()

/** onRequest hook for a scope serving documents (HTML and what it loads): helmet's headers over the API's. */
export function documentSecurityHeaders (_request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
  reply.headers(DOCUMENT_SECURITY_HEADERS)
  done()
}

export interface SecurityHeadersOptions {
  /**
   * Browser clients on other origins are allowed (CORS_ORIGINS): their pages may then embed this server's images
   * and files (signed links in <img>), which Cross-Origin-Resource-Policy: same-origin would block.
   */
  crossOriginClients: boolean
}

async function securityHeadersPlugin (app: FastifyInstance, options: SecurityHeadersOptions) {
  const headers = options.crossOriginClients ? { ...API_SECURITY_HEADERS, 'cross-origin-resource-policy': 'cross-origin' } : API_SECURITY_HEADERS
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
}

export default fp(securityHeadersPlugin, { name: 'security-headers' })
