// DELETE /users/me: deleting your account (its own feature: it reaches into every other one).
import { Type } from '@sinclair/typebox'
import { errorResponse, unauthorizedResponse } from '../../schemas/common.ts'
import type { App } from '../../types.ts'
import { DeleteAccountBodySchema } from './schemas.ts'
import type { AccountsService } from './service.ts'

const DESCRIPTION = `Deletes your account for good, in one transaction (all of it or, on any failure, none of it): your sessions (every token of yours is 401 at once, on every instance, and your event streams get \`session.revoked\` and close), your contacts and the entries others have of you, blocks either way, your events, your presence, your avatar, and every message you sent or received with its file, for both sides (their conversation with you, their history and their events carrying your messages go too). Stored bytes are removed after the commit.

Everyone who had you as a contact, had a conversation with you or had blocked you gets \`user.deleted\` with your id. Your username and email can be registered again at once.`

export default async function accountsRoutes (app: App, { accounts }: { accounts: AccountsService }) {
  app.addHook('onRequest', app.authenticate)

  app.delete('/me', {
    // A password check: counted like logins, per client address, against guessing. (A client gone before this
    // runs has no address: nothing is counted, and nothing is answered to it either.)
    onRequest: app.budget('delete-account-ip', app.config.rateLimitAuthPerMinute, (request) => request.ip),
    schema: {
      operationId: 'deleteMe',
      summary: 'Delete your account',
      description: DESCRIPTION,
      tags: ['users'],
      security: [{ bearerAuth: [] }],
      body: DeleteAccountBodySchema,
      response: {
        204: Type.Null({ description: 'Deleted.' }),
        400: errorResponse('VALIDATION_ERROR or INVALID_JSON: no password.'),
        401: unauthorizedResponse,
        403: errorResponse('WRONG_PASSWORD: the password is wrong.'),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE'),
        429: errorResponse('RATE_LIMITED: too many attempts from this address (RATE_LIMIT_AUTH_PER_MINUTE); see Retry-After.')
      }
    }
  }, async (request, reply) => {
    await accounts.delete(request.auth.userId, request.body.password)
    return reply.code(204).send(null)
  })
}
