// Multipart uploads: the parser with every limit explicit, the hook that cleans up after an early answer, and
// how a streamed form is documented in OpenAPI.
import fastifyMultipart from '@fastify/multipart'
import type { TSchema } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../errors.ts'

/** What a form may add to its file: the id field, boundaries and part headers (generously). */
const FORM_OVERHEAD_BYTES = 64 * 1024

async function multipartPlugin (app: FastifyInstance, options: { maxUploadBytes: number }) {
  // Uploads are read as streams; the multipart parser ignores bodyLimit.
  await app.register(fastifyMultipart, {
    limits: { fileSize: options.maxUploadBytes, files: 1, parts: 3, fields: 3, fieldNameSize: 100, fieldSize: 1024, headerPairs: 20 }
  })
  // A form declared larger than any upload allowed is refused before a byte of it is read (not after
  // MAX_UPLOAD_BYTES of it, or at the idle timeout when the client waits for an answer before sending).
  // (Every request passes here: a callback hook, no promise of its own.)
  app.addHook('onRequest', (request, reply, done) => {
    const declared = Number(request.headers['content-length'])
    // (request.isMultipart() is only known once the body's parser is chosen, after this hook.)
    if (declared > options.maxUploadBytes + FORM_OVERHEAD_BYTES && /^multipart\/form-data\b/i.test(request.headers['content-type'] ?? '')) {
      reply.header('connection', 'close')
      return done(new AppError('PAYLOAD_TOO_LARGE', `The upload is larger than ${options.maxUploadBytes} bytes`))
    }
    done()
  })
}

export default fp(multipartPlugin, { name: 'multipart' })

/**
 * onSend hook of the upload routes. After an early answer (a policy error, a bad form, a limit) the rest of the
 * body may still be on its way, with the parser no longer reading it: the client could neither finish sending
 * nor, on this connection, send anything else. Discard what remains and close the connection after the answer.
 */
export async function discardUnreadBody (request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (!request.raw.complete) {
    reply.header('connection', 'close')
    request.raw.unpipe()
    request.raw.resume()
  }
  return payload
}

/**
 * Upload routes read their multipart body as a stream (request.parts()), so Fastify has no body to validate;
 * the form is added to the OpenAPI document only, so generated clients can upload.
 */
export function documentMultipartBody (form: TSchema) {
  return ({ schema, url }: { schema: FastifySchema, url: string }) =>
    ({ url, schema: { ...schema, consumes: ['multipart/form-data'], body: form } as FastifySchema })
}
