// The API's shapes (../shared/API.md "Shapes"): one declaration each for validation, serialization, OpenAPI and types.
import { type Static, Type } from '@sinclair/typebox'
import { ref, Timestamp, Uuid } from './common.ts'

// Letters may carry combining marks (Devanagari vowel signs, decomposed accents); a name cannot start with one.
export const USERNAME_PATTERN = '^[\\p{L}\\p{N}_.\\-][\\p{L}\\p{M}\\p{N}_.\\-]{1,31}$'

export const Username = () => Type.String({
  minLength: 2,
  maxLength: 32,
  pattern: USERNAME_PATTERN,
  description: '2-32 Unicode letters (with their combining marks), digits, "_", "." or "-" (so "张三" is valid), not starting with a combining mark; stored exactly as sent (no normalization); unique without regard to case.'
})
export const Password = (description = '8-256 characters.') => Type.String({ minLength: 8, maxLength: 256, description })
export const Email = () => Type.String({ format: 'email', maxLength: 254, description: 'A valid address, unique without regard to case.' })
export const AvatarUrl = () => Type.Union([
  Type.String({ maxLength: 2048, pattern: '^(https?://[^\\s]+|/files/[0-9a-fA-F-]{36})$', description: 'An http(s) URL or a /files/{id} path.' }),
  Type.Null()
])

// Uploaded avatars are handed out as signed links (like FileRef.downloadUrl), so `<img src>` works without a token.
const AvatarUrlOut = () => Type.Union([Type.String(), Type.Null()], { description: 'An http(s) URL, or for an uploaded avatar a signed link /files/{id}?exp=...&sig=... that needs no token until `exp` (fresh in every response and event); null when none.' })

export const UserSchema = Type.Object({
  id: Uuid(),
  username: Type.String(),
  email: Type.String(),
  avatarUrl: AvatarUrlOut(),
  createdAt: Timestamp()
}, { $id: 'User', description: 'The signed-in user\'s own account. Never contains the password or its hash.' })
export type User = Static<typeof UserSchema>

export const PublicUserSchema = Type.Object({
  id: Uuid(),
  username: Type.String(),
  avatarUrl: AvatarUrlOut(),
  online: Type.Boolean({ description: 'True while the user has at least one open event stream on any instance.' })
}, { $id: 'PublicUser', description: 'What any signed-in user may see of another.' })
export type PublicUser = Static<typeof PublicUserSchema>

export const ContactSchema = Type.Object({
  contactId: Uuid('The contact\'s user id.'),
  username: Type.String(),
  avatarUrl: AvatarUrlOut(),
  online: Type.Boolean(),
  addedAt: Timestamp()
}, { $id: 'Contact', description: 'An entry of the caller\'s personal address book.' })
export type Contact = Static<typeof ContactSchema>

export const SessionSchema = Type.Object({
  user: ref(UserSchema),
  token: Type.String({ description: 'Bearer token (a JWT naming the session). Send as `Authorization: Bearer <token>`.' }),
  expiresAt: Timestamp('When the token stops working; POST /auth/token-login renews it.')
}, { $id: 'Session' })
export type Session = Static<typeof SessionSchema>

export const FileRefSchema = Type.Object({
  id: Uuid(),
  name: Type.String({ description: 'The sanitized original file name, for display.' }),
  size: Type.Integer({ description: 'Size in bytes of the stored file (for images: of the stored, re-encoded image).' }),
  mimeType: Type.String(),
  url: Type.String({ description: 'Where to download it with the bearer token: /files/{id}.' }),
  downloadUrl: Type.String({ description: 'The same resource as a signed link, /files/{id}?exp=...&sig=..., that needs no token until `exp` (FILE_URL_TTL_SECONDS after it was handed out, rounded up to at most 5 minutes more): for `<img src>` and plain links. Every response and event carries a fresh one; an expired or altered link is 401 LINK_INVALID.' }),
  width: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Images: width in pixels of the stored image (orientation applied). Null for files.' }),
  height: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'Images: height in pixels (of one frame, for an animation). Null for files.' }),
  thumbnailUrl: Type.Union([Type.String(), Type.Null()], { description: 'Images: a signed link, like downloadUrl, to a WebP of at most 320x320 pixels (aspect kept). Null for files.' })
}, { $id: 'FileRef' })
export type FileRef = Static<typeof FileRefSchema>

export const MessageSchema = Type.Object({
  id: Uuid(),
  senderId: Uuid(),
  receiverId: Uuid(),
  kind: Type.Union([Type.Literal('text'), Type.Literal('file'), Type.Literal('image')]),
  content: Type.Union([Type.String(), Type.Null()], { description: 'Text messages only.' }),
  file: Type.Union([ref(FileRefSchema), Type.Null()], { description: 'File and image messages only.' }),
  createdAt: Timestamp(),
  readAt: Type.Union([Timestamp(), Type.Null()], { description: 'When the receiver first marked it read.' })
}, { $id: 'Message' })
export type Message = Static<typeof MessageSchema>

export const ConversationSchema = Type.Object({
  peer: ref(PublicUserSchema),
  lastMessage: Type.Union([ref(MessageSchema), Type.Null()], { description: 'Null when the caller cleared the conversation after its last message.' }),
  unreadCount: Type.Integer({ description: 'Messages from the peer to the caller not yet read (and not cleared).' })
}, { $id: 'Conversation' })
export type Conversation = Static<typeof ConversationSchema>

export const MODEL_SCHEMAS = [UserSchema, PublicUserSchema, ContactSchema, SessionSchema, FileRefSchema, MessageSchema, ConversationSchema]
