// GET /events: the caller's Server-Sent Events stream, resumable with Last-Event-ID.
import type { OutgoingHttpHeaders } from 'node:http'
import { Type } from '@sinclair/typebox'
import { logLevel } from '../../db/errors.ts'
import { fail } from '../../errors.ts'
import { errorResponse, ref, unauthorizedResponse } from '../../schemas/common.ts'
import type { App } from '../../types.ts'
import type { EventsService } from './service.ts'
import { EventsHeadersSchema, EventsQuerySchema, StreamEventSchema } from './schemas.ts'

const DESCRIPTION = `Opens the caller's event stream (\`text/event-stream\`). A user may hold several; each gets every event of the user.

The stream starts with \`retry: <ms>\` and \`event: ready\` (data \`ReadyEvent\`), then sends events as they happen, and a \`: ping\` comment at least every SSE_HEARTBEAT_MS.

Durable events (\`message.created\`, \`message.read\`, \`history.cleared\`, \`contact.added\`, \`contact.removed\`, \`profile.updated\`, \`message.updated\`, \`message.deleted\`, \`block.added\`, \`block.removed\`, \`user.deleted\`) carry an \`id:\`, a per-user sequence number that strictly increases. Reconnect with \`Last-Event-ID: <id>\` (or \`?lastEventId=\`) to first receive every stored event after it, in order, then live ones: none is skipped or repeated.

Erasure reaches the log: once a message is gone for you (deleted for you or for everyone), your stored events that carry it (its \`message.created\` and \`message.updated\`) are erased, so a resume never replays it; ids still strictly increase, a resumed stream simply has no event for the erased ids. Events are kept EVENTS_RETENTION_DAYS; resuming from before that sends \`event: reset\` and continues live.

\`presence\` and \`typing\` (never between two users one of whom has blocked the other), \`session.revoked\` (logout, a password change, a session revoked from another device, the account deleted, or the session expired: within 5 s of its expiry), \`reset\` and \`ready\` have no id and are not replayed. After \`session.revoked\` the server closes the stream. A client that stops reading is disconnected once the server can no longer write to it (it can resume by id).

Each frame is one \`StreamEvent\`: \`id\` (durable events), \`event\` and one line of JSON \`data\`.`

function flattenString (value: unknown): void {
  if (typeof value === 'string' && value.length > 0) value.charCodeAt(0)
}

export default async function eventsRoutes (app: App, { events }: { events: EventsService }) {
  app.addHook('onRequest', app.authenticate)
  // Streams each user holds on this instance: counted before the stream opens, released when its response closes
  // (ended by the server or dropped by the client). Other instances' counts come from their presence rows.
  const held = new Map<string, number>()

  app.get('', {
    config: { acceptsQueryToken: true },
    schema: {
      operationId: 'streamEvents',
      summary: 'Follow your events (Server-Sent Events)',
      description: DESCRIPTION,
      tags: ['events'],
      security: [{ bearerAuth: [] }],
      querystring: EventsQuerySchema,
      headers: EventsHeadersSchema,
      response: {
        200: {
          description: 'The event stream; each frame is a StreamEvent.',
          content: { 'text/event-stream': { schema: Type.Array(ref(StreamEventSchema)) } }
        },
        400: errorResponse('VALIDATION_ERROR: Last-Event-ID or lastEventId is not a decimal id.'),
        401: unauthorizedResponse,
        429: errorResponse('TOO_MANY_STREAMS: you already hold MAX_STREAMS_PER_USER streams (default 20; counted across every instance, other instances\' counts lagging by up to 5 s), or RATE_LIMITED: over RATE_LIMIT_PER_MINUTE. See Retry-After for the latter.')
      }
    }
  }, async (request, reply) => {
    const resume = request.headers['last-event-id'] ?? request.query.lastEventId
    const { userId } = request.auth
    const holding = held.get(userId) ?? 0
    if (holding >= app.config.maxStreamsPerUser) fail('TOO_MANY_STREAMS')
    held.set(userId, holding + 1)
    const release = () => {
      const left = (held.get(userId) ?? 1) - 1
      if (left > 0) held.set(userId, left)
      else held.delete(userId)
    }
    try {
      // Held here (reserved above) and on the other instances, as they last wrote it.
      if (holding + await events.streamsElsewhere(userId) >= app.config.maxStreamsPerUser) fail('TOO_MANY_STREAMS')
    } catch (err) {
      release()
      throw err
    }
    reply.raw.once('close', release)
    reply.hijack()
    const res = reply.raw
    // Only the headers a stream needs (CORS included): a response's header block lives as long as the
    // connection, and the document-oriented security headers mean nothing to an event stream.
    const headers: OutgoingHttpHeaders = {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      'x-content-type-options': 'nosniff',
      // When the stream ends (logout, reset, the server stopping) the client opens a new one anyway; a
      // connection kept alive after it would only hold a stopping server until its keep-alive timeout.
      connection: 'close'
    }
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (name.startsWith('access-control-') || name === 'vary') headers[name] = value
    }
    res.writeHead(200, headers)
    // Node keeps the serialized header block for the connection's life as a rope of ~70 small strings;
    // reading a character makes V8 flatten it into one (about 2 KiB less per open stream).
    flattenString((res as unknown as { _header?: unknown })._header)
    request.raw.socket.setNoDelay(true)
    // Heartbeats keep a stream busy; a quiet client (it only reads) must not count as an idle connection.
    request.raw.socket.setTimeout(0)
    // The request's log line comes only when the stream ends (request-log.ts): say now that it opened.
    request.log.info({ req: request, res: reply }, 'event stream opened')
    try {
      await events.openStream({
        userId: request.auth.userId,
        sessionId: request.auth.sessionId,
        res,
        resumeAfter: resume === undefined ? undefined : Number(resume),
        log: request.log
      })
    } catch (err) {
      request.log[logLevel(err)]({ err }, 'could not open event stream')
      res.end()
    }
  })
}
