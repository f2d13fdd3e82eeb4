// The API's shapes: one declaration each for validation, serialization, OpenAPI and types.
import { type Static, Type } from '@sinclair/typebox'
import { NullableString, ref, Timestamp, UUID_BODY, Uuid } from './common.ts'

// Letters may carry combining marks (Devanagari vowel signs, decomposed accents); a name cannot start with one.
export const USERNAME_PATTERN = '^[\\p{L}\\p{N}_.\\-][\\p{L}\\p{M}\\p{N}_.\\-]{1,31}$'

export const Username = () => Type.String({
  minLength: 2,
  maxLength: 32,
  pattern: USERNAME_PATTERN,
  description: '2-32 Unicode letters (with their combining marks), digits, "_", "." or "-" (so "张三" is valid), not starting with a combining mark; stored exactly as sent (no normalization); unique without regard to case.'
})
export const Password = (description = '8-256 characters, not only whitespace.') => Type.String({ minLength: 8, maxLength: 256, pattern: '\\S', description })
export const Email = () => Type.String({ format: 'email', maxLength: 254, description: 'A valid address, unique without regard to case.' })
export const AvatarUrl = () => Type.Union([
  Type.String({ maxLength: 2048, pattern: `^(https?://[^\\s"'<>\\\\\`]+|/files/${UUID_BODY})$`, description: 'An http(s) URL (it must parse as a URL; no whitespace, quotes, `<`, `>`, backslashes or backticks) or a /files/{id} path with a canonical UUID.' }),
  Type.Null()
])

// Response atoms: stored values, bounded by what the request schemas let in.
const StoredUsername = () => Type.String({ maxLength: 32 })
const StoredAvatarUrl = () => NullableString({ maxLength: 2048 })

/** At most this many contacts are listed, and the conversation list holds the this many most recent. */
export const MAX_LISTED = 10000

export const UserSchema = Type.Object({
  id: Uuid(),
  username: StoredUsername(),
  email: Type.String({ maxLength: 254 }),
  avatarUrl: StoredAvatarUrl(),
  createdAt: Timestamp()
}, { $id: 'User', description: 'The signed-in user\'s own account. Never contains the password or its hash.' })
export type User = Static<typeof UserSchema>

export const PublicUserSchema = Type.Object({
  id: Uuid(),
  username: StoredUsername(),
  avatarUrl: StoredAvatarUrl(),
  online: Type.Boolean({ description: 'True while the user has at least one open event stream on any instance.' })
}, { $id: 'PublicUser', description: 'What any signed-in user may see of another.' })
export type PublicUser = Static<typeof PublicUserSchema>

export const ContactSchema = Type.Object({
  contactId: Uuid('The contact\'s user id.'),
  username: StoredUsername(),
  avatarUrl: StoredAvatarUrl(),
  online: Type.Boolean(),
  addedAt: Timestamp()
}, { $id: 'Contact', description: 'An entry of the caller\'s personal address book.' })
export type Contact = Static<typeof ContactSchema>

export const SessionSchema = Type.Object({
  user: ref(UserSchema),
  token: Type.String({ maxLength: 4096, description: 'Bearer token (a JWT naming the session). Send as `Authorization: Bearer <token>`.' }),
  expiresAt: Timestamp('When the token stops working; POST /auth/token-login renews it.')
}, { $id: 'Session' })
export type Session = Static<typeof SessionSchema>

export const FileRefSchema = Type.Object({
  id: Uuid(),
  name: Type.String({ maxLength: 255, description: 'The sanitized original file name, for display.' }),
  size: Type.Integer({ format: 'int64', minimum: 0, maximum: 2 ** 40, description: 'Size in bytes.' }),
  mimeType: Type.String({ maxLength: 255 }),
  url: Type.String({ maxLength: 64, description: 'Where to download it: /files/{id}.' })
}, { $id: 'FileRef' })
export type FileRef = Static<typeof FileRefSchema>

export const MessageSchema = Type.Object({
  id: Uuid(),
  senderId: Uuid(),
  receiverId: Uuid(),
  kind: Type.Union([Type.Literal('text'), Type.Literal('file'), Type.Literal('image')]),
  content: NullableString({ maxLength: 10000, description: 'Text messages only.' }),
  file: Type.Union([ref(FileRefSchema), Type.Null()], { description: 'File and image messages only.' }),
  createdAt: Timestamp(),
  readAt: Type.Union([Timestamp(), Type.Null()], { description: 'When the receiver first marked it read.' })
}, { $id: 'Message' })
export type Message = Static<typeof MessageSchema>

export const ConversationSchema = Type.Object({
  peer: ref(PublicUserSchema),
  lastMessage: Type.Union([ref(MessageSchema), Type.Null()], { description: 'Null when the caller cleared the conversation after its last message.' }),
  unreadCount: Type.Integer({ format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Messages from the peer to the caller not yet read (and not cleared).' })
}, { $id: 'Conversation' })
export type Conversation = Static<typeof ConversationSchema>

export const MODEL_SCHEMAS = [UserSchema, PublicUserSchema, ContactSchema, SessionSchema, FileRefSchema, MessageSchema, ConversationSchema]
