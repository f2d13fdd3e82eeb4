// Request and response shapes of editing, deleting, reacting to and searching messages, and of typing.
import { Type } from '@sinclair/typebox'
import { ref, Uuid } from '../../schemas/common.ts'
import { MessageSchema } from '../../schemas/models.ts'
import { MAX_REACTIONS_PER_USER } from './reactions.ts'

export const EditBodySchema = Type.Object({
  content: Type.String({ minLength: 1, maxLength: 10000, description: 'The new text: 1-10,000 Unicode code points, stored and returned exactly as sent.' })
}, { additionalProperties: false })

export const DeleteQuerySchema = Type.Object({
  for: Type.Optional(Type.Union([Type.Literal('me'), Type.Literal('everyone')], {
    default: 'me',
    description: '"me" (default): gone for you only; "everyone": gone for both of you (the sender only).'
  }))
}, { additionalProperties: false })

// Whitespace and control characters are refused; format characters stay allowed (ZWJ joins emoji sequences).
export const EMOJI_PATTERN = '^[^\\s\\p{Cc}]+$'

export const ReactionParamsSchema = Type.Object({
  messageId: Uuid(),
  emoji: Type.String({
    minLength: 1,
    maxLength: 16,
    pattern: EMOJI_PATTERN,
    description: `The reaction, URL-encoded: 1-16 Unicode code points, no whitespace or control characters (usually one emoji, e.g. %F0%9F%91%8D for 👍). Each user may add at most ${MAX_REACTIONS_PER_USER} different reactions to a message.`
  })
})

export const TypingBodySchema = Type.Object({
  typing: Type.Boolean({ description: 'True while typing (repeat it every few seconds: it holds for 6 s), false when stopped.' })
}, { additionalProperties: false })

export const DEFAULT_SEARCH_SIZE = 20

export const SearchQuerySchema = Type.Object({
  q: Type.String({
    minLength: 1,
    maxLength: 100,
    description: 'Text to find anywhere in a message: 1-100 characters, compared without regard to case, in any script ("张三" finds "我是张三"). `%`, `_` and `\\` are plain characters.'
  }),
  peerId: Type.Optional(Uuid('Search only the conversation with this user.')),
  before: Type.Optional(Uuid('Page back: only messages older than this one (one of your messages; 404 MESSAGE_NOT_FOUND otherwise). Pass the last id of the previous page.')),
  limit: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: 100, default: DEFAULT_SEARCH_SIZE, description: 'Page size, 1-100.' }))
}, { additionalProperties: false })

export const SearchResultSchema = Type.Object({
  messages: Type.Array(ref(MessageSchema), { maxItems: 100, description: 'Matching messages, newest first.' }),
  hasMore: Type.Boolean({ description: 'True when older matches remain: ask again with before = the last id of this page.' })
})
