// /messages/{id} edits, deletions and reactions, /messages/search, and /conversations/{peerId}/typing.
import { Type } from '@sinclair/typebox'
import { errorResponse, ref, unauthorizedResponse } from '../../schemas/common.ts'
import { MessageSchema } from '../../schemas/models.ts'
import type { App } from '../../types.ts'
import type { MessageChanges } from './changes.ts'
import {
  DEFAULT_SEARCH_SIZE, DeleteQuerySchema, EditBodySchema, ReactionParamsSchema, SearchQuerySchema, SearchResultSchema, TypingBodySchema
} from './changes-schemas.ts'
import { MessageParamsSchema, PeerParamsSchema } from './schemas.ts'
import type { MessageSearch } from './search.ts'
import type { MessagesService } from './service.ts'

const security = [{ bearerAuth: [] }]
const tags = ['conversations']
const GONE = 'MESSAGE_NOT_FOUND: no such message, not one of yours, or gone for you (deleted for you or for everyone, or cleared).'
const UPDATED = '`message.updated` (the whole Message) goes to every stream of both parties, on every instance (not to a party the message is gone for).'

export interface MessageChangesRoutesOptions {
  messages: MessagesService
  changes: MessageChanges
  search: MessageSearch
}

export default async function messageChangesRoutes (app: App, { messages, changes, search }: MessageChangesRoutesOptions) {
  app.addHook('onRequest', app.authenticate)

  app.patch('/messages/:messageId', {
    schema: {
      operationId: 'editMessage',
      summary: 'Edit a text message you sent',
      description: `Replaces the content; the Message's \`editedAt\` is set (each edit moves it). History, search and the conversation list show the new text. ${UPDATED} A send retried with this message's id is still recognised by the content it was first sent with (200, the stored message as edited); the edited text under that id is 409 MESSAGE_ID_CONFLICT.`,
      tags,
      security,
      params: MessageParamsSchema,
      body: EditBodySchema,
      response: {
        200: { ...ref(MessageSchema), description: 'The edited message.' },
        400: errorResponse('VALIDATION_ERROR (messageId not a UUID; content empty, over 10,000 characters, with a NUL or an unpaired surrogate; an unknown property), INVALID_JSON, or NOT_EDITABLE: file and image messages cannot be edited.'),
        401: unauthorizedResponse,
        403: errorResponse('NOT_MESSAGE_SENDER: you received this message; only its sender can edit it.'),
        404: errorResponse(GONE),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE')
      }
    }
  }, async (request) => changes.edit(request.auth.userId, request.params.messageId, request.body.content))

  app.delete('/messages/:messageId', {
    schema: {
      operationId: 'deleteMessage',
      summary: 'Delete a message for yourself or for everyone',
      description: 'Either party may delete a message for themselves (`for=me`, the default); only its sender may delete it for both (`for=everyone`). It is then gone, at once, from the history, the conversation list (`lastMessage` falls back to the previous message still visible), the unread count and search of whoever lost it; their streams get `message.deleted`, and their stored events that carried the message (`message.created`, `message.updated`) are erased, so a resume never replays it. Once neither party sees the message (deleted for everyone; or deleted or cleared by both), it is removed for good, with its file when no other message refers to the file. Deleting again is 404.',
      tags,
      security,
      params: MessageParamsSchema,
      querystring: DeleteQuerySchema,
      response: {
        204: Type.Null({ description: 'Deleted.' }),
        400: errorResponse('VALIDATION_ERROR: messageId not a UUID, or `for` neither "me" nor "everyone".'),
        401: unauthorizedResponse,
        403: errorResponse('NOT_MESSAGE_SENDER: only the sender can delete a message for everyone.'),
        404: errorResponse(GONE)
      }
    }
  }, async (request, reply) => {
    await changes.delete(request.auth.userId, request.params.messageId, request.query.for ?? 'me')
    return reply.code(204).send(null)
  })

  const reactionResponses = {
    200: { ...ref(MessageSchema), description: 'The message with its reactions.' },
    400: errorResponse('VALIDATION_ERROR: messageId not a UUID, or emoji empty, over 16 code points, or with whitespace or a control character.'),
    401: unauthorizedResponse,
    404: errorResponse(GONE)
  }

  app.put('/messages/:messageId/reactions/:emoji', {
    schema: {
      operationId: 'addReaction',
      summary: 'React to a message',
      description: `Adds your reaction. Either party of the conversation may react to any of its messages. Reactions are grouped by emoji, in order of first use, and each group lists its users in the order they reacted. Adding one you already added changes nothing (200, no event). Concurrent reactions to one message take turns: none is lost. ${UPDATED}`,
      tags,
      security,
      params: ReactionParamsSchema,
      response: {
        ...reactionResponses,
        409: errorResponse('TOO_MANY_REACTIONS: you already added 20 different reactions to this message.')
      }
    }
  }, async (request) => changes.react(request.auth.userId, request.params.messageId, request.params.emoji, true))

  app.delete('/messages/:messageId/reactions/:emoji', {
    schema: {
      operationId: 'removeReaction',
      summary: 'Remove your reaction',
      description: `Removes your reaction (a group left without users goes). Removing one you did not add changes nothing (200, no event). ${UPDATED}`,
      tags,
      security,
      params: ReactionParamsSchema,
      response: reactionResponses
    }
  }, async (request) => changes.react(request.auth.userId, request.params.messageId, request.params.emoji, false))

  app.post('/conversations/:peerId/typing', {
    schema: {
      operationId: 'sendTyping',
      summary: 'Tell the peer you are typing',
      description: 'The peer\'s streams, on every instance, get `typing` `{ userId, typing }`: an event without id that is never stored nor replayed. `typing: true` holds for 6 s: repeat it while typing, and send `false` when you stop. At most one event a second per pair is passed on (per server instance): within a second, the first request goes at once and the last one at the end of the second, when it changes what the peer was told. Only between users who may message each other.',
      tags,
      security,
      params: PeerParamsSchema,
      body: TypingBodySchema,
      response: {
        204: Type.Null({ description: 'Passed on (or folded into the next event of this second).' }),
        400: errorResponse('VALIDATION_ERROR (peerId not a UUID, typing not a boolean, an unknown property), INVALID_JSON or CANNOT_MESSAGE_SELF.'),
        401: unauthorizedResponse,
        403: errorResponse('NOT_A_CONTACT: neither of you has the other as a contact.'),
        404: errorResponse('USER_NOT_FOUND'),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE')
      }
    }
  }, async (request, reply) => {
    await messages.typing(request.auth.userId, request.params.peerId, request.body.typing)
    return reply.code(204).send(null)
  })

  app.get('/messages/search', {
    schema: {
      operationId: 'searchMessages',
      summary: 'Search your messages',
      description: 'Text messages visible to you (not cleared, not deleted for you) whose content contains `q`, without regard to case, in any script; newest first. `peerId` narrows it to one conversation. Page back with `before` = the last id of the previous page. A query of 3 characters or more is served by a trigram index; shorter ones scan your conversations from the newest message back.',
      tags,
      security,
      querystring: SearchQuerySchema,
      response: {
        200: SearchResultSchema,
        400: errorResponse('VALIDATION_ERROR (q empty or over 100 characters, peerId or before not a UUID, limit out of 1-100) or CANNOT_MESSAGE_SELF (peerId is you).'),
        401: unauthorizedResponse,
        404: errorResponse('USER_NOT_FOUND (peerId), or MESSAGE_NOT_FOUND: `before` is not one of your messages.')
      }
    }
  }, async (request) => search.search(request.auth.userId, { ...request.query, limit: request.query.limit ?? DEFAULT_SEARCH_SIZE }))
}
