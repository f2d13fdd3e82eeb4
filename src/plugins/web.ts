// Serves the built web client (web/dist) at `/`: index.html revalidated on every load, hashed assets cached for good.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import type { FastifyInstance } from 'fastify'
import { sendError } from './errors.ts'
import { documentSecurityHeaders } from './security-headers.ts'

export const WEB_ROOT = fileURLToPath(new URL('../../web/dist/', import.meta.url))

export default async function webPlugin (app: FastifyInstance, options: { root?: string }) {
  const root = options.root ?? WEB_ROOT
  app.addHook('onRequest', documentSecurityHeaders)
  if (!existsSync(`${root}/index.html`)) {
    app.log.warn(`The web client is not built (${root}): run npm run build:web`)
    app.get('/', { schema: { hide: true } }, (_request, reply) => sendError(reply, 'ROUTE_NOT_FOUND', 'The web client is not built: run npm run build:web'))
    return
  }
  await app.register(fastifyStatic, {
    root,
    // One route per built file, found at start: no catch-all, so API paths and their JSON 404s are untouched.
    wildcard: false,
    index: 'index.html',
    decorateReply: false,
    cacheControl: false,
    setHeaders: (res, path) => {
      // Vite names assets by content hash: a new build gets new names, so old ones never change.
      res.setHeader('Cache-Control', path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache')
    }
  })
}
