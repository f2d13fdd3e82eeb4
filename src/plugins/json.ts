// The application/json body parser: strict UTF-8 (a malformed byte is 400, never a stored U+FFFD), no other
// charset, prototype-poisoning keys rejected, and an empty body on an endpoint that takes none is no body.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../errors.ts'

// fatal: a malformed sequence throws instead of becoming U+FFFD. A leading byte order mark is dropped.
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The charset parameter of a Content-Type, lower case, if there is one. */
function charsetOf (contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')
  return match?.[1]?.toLowerCase()
}

async function jsonPlugin (app: FastifyInstance) {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request: FastifyRequest, body: Buffer, done) => {
    const charset = charsetOf(request.headers['content-type'])
    if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
      done(new AppError('INVALID_JSON', `JSON bodies must be UTF-8 (charset=${charset} is not accepted)`), undefined)
      return
    }
    if (body.length === 0) {
      // Some clients send the header on every request, bodies or not.
      if (request.routeOptions.schema?.body === undefined) done(null, undefined)
      else done(new AppError('INVALID_JSON', 'The request body is empty'), undefined)
      return
    }
    let text: string
    try {
      text = utf8.decode(body)
    } catch {
      done(new AppError('INVALID_JSON', 'The request body is not valid UTF-8'), undefined)
      return
    }
    void parse(request, text, done)
  })
}

export default fp(jsonPlugin, { name: 'json' })
