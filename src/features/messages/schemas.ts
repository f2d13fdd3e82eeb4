// Request and response shapes of the conversation and message routes.
import { Type } from '@sinclair/typebox'
import { Binary, ref, Timestamp, Uuid } from '../../schemas/common.ts'
import { ConversationSchema, MAX_LISTED, MessageSchema } from '../../schemas/models.ts'

export const PeerParamsSchema = Type.Object({ peerId: Uuid('The other user of the conversation.') })

export const MessageParamsSchema = Type.Object({ messageId: Uuid() })

export const SendTextBodySchema = Type.Object({
  id: Type.Optional(Uuid('Optional client-chosen message id: a retry with the same id and content is answered 200 with the stored message and stores and delivers nothing again; the same id with anything different is 409 MESSAGE_ID_CONFLICT.')),
  content: Type.String({ minLength: 1, maxLength: 10000, description: '1-10,000 Unicode code points, stored and returned exactly as sent.' })
}, { additionalProperties: false })

export const DEFAULT_PAGE_SIZE = 50

export const HistoryQuerySchema = Type.Object({
  before: Type.Optional(Uuid('Page back: only messages older than this one, which must be a message of this conversation (404 MESSAGE_NOT_FOUND otherwise). Pass the oldest id of the previous page.')),
  limit: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: 200, default: DEFAULT_PAGE_SIZE, description: 'Page size, 1-200.' }))
}, { additionalProperties: false })

export const MessagePageSchema = Type.Object({
  messages: Type.Array(ref(MessageSchema), { maxItems: 200, description: 'Newest first.' }),
  hasMore: Type.Boolean({ description: 'True when older messages remain: ask again with before = the last id of this page.' })
})

export const ConversationListSchema = Type.Object({
  conversations: Type.Array(ref(ConversationSchema), { maxItems: MAX_LISTED, description: 'Most recent activity first; at most the 10,000 most recent.' })
})

export const ReadReceiptSchema = Type.Object({
  id: Uuid(),
  readAt: Timestamp('When the message was first marked read (a repeat keeps the first time).')
})

export const ReadUpToBodySchema = Type.Object({
  upTo: Uuid('A message of this conversation (from either side): every unread message from the peer up to and including it is marked read.')
}, { additionalProperties: false })

export const ReadUpToResultSchema = Type.Object({
  messageIds: Type.Array(Uuid(), { maxItems: MAX_LISTED, description: 'The messages this call marked read, oldest first (empty when there were none); at most 10,000, the oldest: when more were unread, call again to mark the rest.' }),
  readAt: Timestamp('The read time given to them.')
})

export const UploadFormSchema = Type.Object({
  id: Type.Optional(Uuid('Optional client-chosen message id, sent before `file`: a retry with the same id and the same file (name, size, SHA-256) is answered 200 with the stored message and stores nothing again; the same id with anything different is 409 MESSAGE_ID_CONFLICT.')),
  file: Binary('The file, at most MAX_UPLOAD_BYTES. Its name (from the part\'s filename) is kept for display: base name only, control characters removed, at most 255 UTF-8 bytes ("file" when nothing is left).')
}, { additionalProperties: false })
