// /conversations and /messages: sending, history, the conversation list, read receipts, clearing.
import { Type } from '@sinclair/typebox'
import { errorResponse, ref, unauthorizedResponse } from '../../schemas/common.ts'
import { MessageSchema } from '../../schemas/models.ts'
import type { App } from '../../types.ts'
import { discardUnreadBody, documentMultipartBody } from '../../plugins/multipart.ts'
import {
  ConversationListSchema, DEFAULT_PAGE_SIZE, HistoryQuerySchema, MessagePageSchema, MessageParamsSchema, PeerParamsSchema, ReadReceiptSchema,
  ReadUpToBodySchema, ReadUpToResultSchema, SendTextBodySchema, UploadFormSchema
} from './schemas.ts'
import type { MessagesService } from './service.ts'

const security = [{ bearerAuth: [] }]
const tags = ['conversations']
const POLICY = 'You may send to a user when either of you has the other as a contact (403 NOT_A_CONTACT otherwise); not to yourself (400 CANNOT_MESSAGE_SELF); 404 USER_NOT_FOUND for an unknown peer.'
const EVENTS = '`message.created` goes to every stream of the sender and of the receiver.'

function uploadRoute (kind: 'file' | 'image') {
  const what = kind === 'file'
    ? 'a file of any type (stored with its declared media type, or the one its bytes show, or application/octet-stream)'
    : 'an image: PNG, JPEG, GIF or WebP, judged by its bytes, not by its name or declared type, at most 50 megapixels. It is stored re-encoded in its own format: EXIF orientation applied, metadata (EXIF, GPS, comments) stripped, animations kept; `file.size` is the stored size, `file.width`/`file.height` its pixels, and `file.thumbnailUrl` a WebP of at most 320x320 made at upload'
  return {
    config: { swaggerTransform: documentMultipartBody(UploadFormSchema), countsAsSend: true },
    onSend: discardUnreadBody,
    schema: {
      operationId: kind === 'file' ? 'sendFile' : 'sendImage',
      summary: kind === 'file' ? 'Send a file' : 'Send an image',
      description: `A \`multipart/form-data\` body: optional field \`id\` first, then part \`file\` with ${what}, at most MAX_UPLOAD_BYTES. Answers 201 with a Message of kind \`${kind}\`; its \`file.url\` downloads it. ${POLICY} ${EVENTS} On any error nothing is stored: no bytes, no message, no event.`,
      tags,
      security,
      params: PeerParamsSchema,
      response: {
        200: { ...ref(MessageSchema), description: 'A retry: this id was already used by you, to this peer, for the same file (name, size, SHA-256). Nothing was stored or delivered again.' },
        201: { ...ref(MessageSchema), description: 'Sent.' },
        400: errorResponse('VALIDATION_ERROR (no part `file`, an unknown part, `id` not a UUID, a malformed body) or CANNOT_MESSAGE_SELF.'),
        401: unauthorizedResponse,
        403: errorResponse('NOT_A_CONTACT'),
        404: errorResponse('USER_NOT_FOUND'),
        409: errorResponse('MESSAGE_ID_CONFLICT: the id is taken by a different message.'),
        413: errorResponse(kind === 'image'
          ? 'PAYLOAD_TOO_LARGE: the file is larger than MAX_UPLOAD_BYTES, or the form has too many parts; IMAGE_TOO_LARGE: over 50 megapixels (one frame), or an animation over 100 megapixels in all its frames, judged from the header before decoding.'
          : 'PAYLOAD_TOO_LARGE: the file is larger than MAX_UPLOAD_BYTES, or the form has too many parts.'),
        415: errorResponse(kind === 'image'
          ? 'UNSUPPORTED_IMAGE: the bytes are not PNG, JPEG, GIF or WebP, or cannot be decoded; UNSUPPORTED_MEDIA_TYPE: the body is not multipart/form-data.'
          : 'UNSUPPORTED_MEDIA_TYPE: the body is not multipart/form-data.')
      }
    }
  }
}

export default async function messagesRoutes (app: App, { messages }: { messages: MessagesService }) {
  app.addHook('onRequest', app.authenticate)

  app.get('/conversations', {
    schema: {
      operationId: 'listConversations',
      summary: 'Your conversations, most recent activity first',
      description: 'Each with the peer (live online status), the last message you have not cleared (null when you cleared after it) and the number of messages from the peer you have not read (cleared ones not counted).',
      tags,
      security,
      response: { 200: ConversationListSchema, 401: unauthorizedResponse }
    }
  }, async (request) => ({ conversations: await messages.conversations(request.auth.userId) }))

  app.get('/conversations/:peerId/messages', {
    schema: {
      operationId: 'listMessages',
      summary: 'A page of a conversation\'s history, newest first',
      description: 'Messages you have not cleared, newest first. Page back with `before` = the oldest id you have; `hasMore` says whether older ones remain. Works with former contacts too.',
      tags,
      security,
      params: PeerParamsSchema,
      querystring: HistoryQuerySchema,
      response: {
        200: MessagePageSchema,
        400: errorResponse('VALIDATION_ERROR (peerId or before not a UUID, limit out of 1-200) or CANNOT_MESSAGE_SELF (no conversation with yourself).'),
        401: unauthorizedResponse,
        404: errorResponse('USER_NOT_FOUND, or MESSAGE_NOT_FOUND: `before` is not a message of this conversation.')
      }
    }
  }, async (request) => messages.history(request.auth.userId, request.params.peerId, { before: request.query.before, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }))

  app.post('/conversations/:peerId/messages', {
    config: { countsAsSend: true },
    schema: {
      operationId: 'sendMessage',
      summary: 'Send a text message',
      description: `Answers 201 with the Message. ${POLICY} ${EVENTS}`,
      tags,
      security,
      params: PeerParamsSchema,
      body: SendTextBodySchema,
      response: {
        200: { ...ref(MessageSchema), description: 'A retry: this id was already used by you, to this peer, with the same content. Nothing was stored or delivered again.' },
        201: { ...ref(MessageSchema), description: 'Sent.' },
        400: errorResponse('VALIDATION_ERROR (content empty, over 10,000 characters, with a NUL or an unpaired surrogate; an unknown property), INVALID_JSON or CANNOT_MESSAGE_SELF.'),
        401: unauthorizedResponse,
        403: errorResponse('NOT_A_CONTACT'),
        404: errorResponse('USER_NOT_FOUND'),
        409: errorResponse('MESSAGE_ID_CONFLICT: the id is taken by a different message.'),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE')
      }
    }
  }, async (request, reply) => {
    const { message, created } = await messages.sendText(request.auth.userId, request.params.peerId, request.body)
    reply.code(created ? 201 : 200)
    return message
  })

  app.post('/conversations/:peerId/files', uploadRoute('file'), async (request, reply) => {
    const { message, created } = await messages.sendFile(request.auth.userId, request.params.peerId, 'file', request.parts())
    reply.code(created ? 201 : 200)
    return message
  })

  app.post('/conversations/:peerId/images', uploadRoute('image'), async (request, reply) => {
    const { message, created } = await messages.sendFile(request.auth.userId, request.params.peerId, 'image', request.parts())
    reply.code(created ? 201 : 200)
    return message
  })

  app.delete('/conversations/:peerId/messages', {
    schema: {
      operationId: 'clearConversation',
      summary: 'Clear a conversation for yourself',
      description: 'Hides every message so far from you only: the peer keeps their copy, and messages sent later show as usual. Sends `history.cleared` to your streams. Messages both of you have cleared are deleted, with their files.',
      tags,
      security,
      params: PeerParamsSchema,
      response: {
        204: Type.Null({ description: 'Cleared.' }),
        400: errorResponse('VALIDATION_ERROR (peerId not a UUID) or CANNOT_MESSAGE_SELF.'),
        401: unauthorizedResponse,
        404: errorResponse('USER_NOT_FOUND')
      }
    }
  }, async (request, reply) => {
    await messages.clear(request.auth.userId, request.params.peerId)
    return reply.code(204).send(null)
  })

  app.post('/conversations/:peerId/read', {
    schema: {
      operationId: 'markConversationRead',
      summary: 'Mark a conversation read up to a message',
      description: 'Marks read every unread message from the peer up to and including `upTo` (messages you cleared are left alone). `message.read` goes to the streams of both of you when something was marked.',
      tags,
      security,
      params: PeerParamsSchema,
      body: ReadUpToBodySchema,
      response: {
        200: ReadUpToResultSchema,
        400: errorResponse('VALIDATION_ERROR, INVALID_JSON or CANNOT_MESSAGE_SELF.'),
        401: unauthorizedResponse,
        404: errorResponse('USER_NOT_FOUND, or MESSAGE_NOT_FOUND: `upTo` is not a message of this conversation.'),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE')
      }
    }
  }, async (request) => messages.markReadUpTo(request.auth.userId, request.params.peerId, request.body.upTo))

  app.post('/messages/:messageId/read', {
    schema: {
      operationId: 'markMessageRead',
      summary: 'Mark a message read',
      description: 'Only its receiver may; repeating it keeps the first `readAt`. `message.read` goes to the streams of the sender and the reader the first time.',
      tags,
      security,
      params: MessageParamsSchema,
      response: {
        200: ReadReceiptSchema,
        400: errorResponse('VALIDATION_ERROR: messageId is not a UUID.'),
        401: unauthorizedResponse,
        403: errorResponse('NOT_MESSAGE_RECEIVER: you sent this message; only its receiver can mark it read.'),
        404: errorResponse('MESSAGE_NOT_FOUND: no such message, or not one of yours.')
      }
    }
  }, async (request) => messages.markRead(request.auth.userId, request.params.messageId))
}
