// GET /health: 200 while the database answers, 503 otherwise (for load balancers and orchestrators).
import { Type } from '@sinclair/typebox'
import { sql } from 'drizzle-orm'
import { errorResponse } from '../../schemas/common.ts'
import { sendError } from '../../plugins/errors.ts'
import type { App } from '../../types.ts'

export default async function healthRoutes (app: App) {
  app.get('/health', {
    schema: {
      operationId: 'getHealth',
      security: [],
      summary: 'Check that the server and its database answer',
      tags: ['operations'],
      response: {
        200: Type.Object({ status: Type.Literal('ok') }, { description: 'The database answered.' }),
        503: errorResponse('SERVICE_UNAVAILABLE: the database did not answer.')
      }
    }
  }, async (request, reply) => {
    try {
      await app.db.execute(sql`select 1`)
      return { status: 'ok' as const }
    } catch (err) {
      request.log.warn({ err }, 'health check: database did not answer')
      return sendError(reply, 'SERVICE_UNAVAILABLE', 'The database did not answer')
    }
  })
}
