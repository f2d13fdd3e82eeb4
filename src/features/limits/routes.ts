// GET /limits: what this server accepts (from its configuration), so clients can check before they send.
import { ref } from '../../schemas/common.ts'
import { type Limits, LimitsSchema } from '../../schemas/models.ts'
import type { App } from '../../types.ts'

export default async function limitsRoutes (app: App, { limits }: { limits: Limits }) {
  app.get('/limits', {
    schema: {
      operationId: 'getLimits',
      summary: 'What this server accepts',
      description: 'No token needed. The values this server enforces, from its configuration: check a file\'s size or a message\'s length before sending. They can change when the server is restarted with another configuration.',
      tags: ['operations'],
      security: [],
      response: { 200: ref(LimitsSchema) }
    }
  }, async () => limits)
}
