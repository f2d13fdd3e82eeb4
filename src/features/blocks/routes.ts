// /blocks: the users the caller has blocked, blocking and unblocking.
import { Type } from '@sinclair/typebox'
import { errorResponse, unauthorizedResponse } from '../../schemas/common.ts'
import type { App } from '../../types.ts'
import { BlockListSchema, BlockParamsSchema } from './schemas.ts'
import type { BlocksService } from './service.ts'

const security = [{ bearerAuth: [] }]
const tags = ['blocking']
const EFFECT = 'While either of two users has blocked the other: text, file and image sends, reactions and typing between them are 403 BLOCKED; each shows offline to the other (contacts, conversations, search results, GET /users/{id}) and gets no `presence` or `typing` event from the other while the block lasts; the blocker does not appear in the blocked user\'s search. History already there stays readable. When a block starts, each of the two who has the other as a contact gets one `presence` event showing the other offline (the blocked user is not told why: no `block.*` event reaches them).'

export default async function blocksRoutes (app: App, { blocks }: { blocks: BlocksService }) {
  app.addHook('onRequest', app.authenticate)

  app.get('', {
    schema: {
      operationId: 'listBlocks',
      summary: 'The users you have blocked',
      description: 'Ordered by username. Users who have blocked you are not listed (you are not told).',
      tags,
      security,
      response: { 200: BlockListSchema, 401: unauthorizedResponse }
    }
  }, async (request) => ({ users: await blocks.list(request.auth.userId) }))

  app.put('/:userId', {
    schema: {
      operationId: 'blockUser',
      summary: 'Block a user',
      description: `Any user, contact or not. Blocking again answers 204 and changes nothing. Sends \`block.added\` to your streams (your other devices) the first time. ${EFFECT}`,
      tags,
      security,
      params: BlockParamsSchema,
      response: {
        204: Type.Null({ description: 'Blocked.' }),
        400: errorResponse('VALIDATION_ERROR (userId not a UUID) or CANNOT_BLOCK_SELF.'),
        401: unauthorizedResponse,
        404: errorResponse('USER_NOT_FOUND')
      }
    }
  }, async (request, reply) => {
    await blocks.block(request.auth.userId, request.params.userId)
    return reply.code(204).send(null)
  })

  app.delete('/:userId', {
    schema: {
      operationId: 'unblockUser',
      summary: 'Unblock a user',
      description: 'Lifts your block: everything works again between you (unless they have blocked you). Unblocking a user you have not blocked (or who does not exist) answers 204 and changes nothing. Sends `block.removed` to your streams when a block was lifted; when no block is left between you, each of you who has the other as a contact gets a `presence` event with the other\'s real state.',
      tags,
      security,
      params: BlockParamsSchema,
      response: {
        204: Type.Null({ description: 'Not blocked (any more).' }),
        400: errorResponse('VALIDATION_ERROR: userId is not a UUID.'),
        401: unauthorizedResponse
      }
    }
  }, async (request, reply) => {
    await blocks.unblock(request.auth.userId, request.params.userId)
    return reply.code(204).send(null)
  })
}
