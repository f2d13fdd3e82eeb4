// GET /health: 200 while the database answers (in time), 503 otherwise (for load balancers and orchestrators).
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
      return { status: 'ok' as const }
    } catch (err) {
      request.log.warn({ err }, 'health check: database did not answer')
      return sendError(reply, 'DATABASE_UNAVAILABLE', 'The database did not answer')
    } finally {
      clearTimeout(timer)
    }
  })
}
