// One log line per request at `info` instead of Fastify's two: "request completed" with method, redacted URL
// and client address (the `req` serializer), status and response time, written when the response ends. The
// "incoming request" line moves to `debug`. An event stream logs its own opening, as it ends only when the
// stream does.
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify'

export class OneLineLogController extends LogController {
  override incomingRequest (request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request')
  }

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) reply.log.error({ req: request, res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored')
    else reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed')
  }
}
