// GET /health: 200 while the database answers (in time), 503 otherwise (for load balancers and orchestrators),
// with the state of the event bus between instances.
import { Type } from '@sinclair/typebox'
import { sql } from 'drizzle-orm'
import { errorResponse } from '../../schemas/common.ts'
import { sendError } from '../../plugins/errors.ts'
import type { Bus } from '../../bus/index.ts'
import type { App } from '../../types.ts'

const HealthSchema = Type.Object({
  status: Type.Literal('ok'),
  bus: Type.Object({
    kind: Type.Union([Type.Literal('in-process'), Type.Literal('postgres'), Type.Literal('nats')], {
      description: 'in-process: the embedded database (one instance); postgres: LISTEN/NOTIFY; nats: NATS (BUS_URL).'
    }),
    connected: Type.Boolean({
      description: 'Whether this instance reaches the bus now. While it does not, the instance keeps serving: its own ' +
        'events still reach its streams, and events of other instances are read from the database within about a second (NATS) ' +
        'or after the reconnect (PostgreSQL). Alert on it; do not take the instance out of the load balancer for it.'
    })
  }, { description: 'The event bus between instances.' })
}, { description: 'The database answered.' })

export default async function healthRoutes (app: App, { bus }: { bus: Bus }) {
  app.get('/health', {
    schema: {
      operationId: 'getHealth',
      security: [],
      summary: 'Check that the server and its database answer, and report the event bus',
      tags: ['operations'],
      response: {
        200: HealthSchema,
        503: errorResponse('DATABASE_UNAVAILABLE: the database did not answer (within 5 s); with Retry-After.')
      }
    }
  }, async (request, reply) => {
    let timer: NodeJS.Timeout | undefined
    // A hung database (or an exhausted pool) fails the check as surely as a closed one.
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${app.config.healthTimeoutMs} ms`)), app.config.healthTimeoutMs)
    })
    try {
      await Promise.race([app.db.execute(sql`select 1`), timeout])
      return { status: 'ok' as const, bus: { kind: bus.kind, connected: bus.connected() } }
    } catch (err) {
      request.log.warn({ err }, 'health check: database did not answer')
      return sendError(reply, 'DATABASE_UNAVAILABLE', 'The database did not answer')
    } finally {
      clearTimeout(timer)
    }
  })
}
