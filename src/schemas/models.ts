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
// Uploaded avatars are handed out as signed links (like FileRef.downloadUrl), so `<img src>` works without a token.
const StoredAvatarUrl = () => NullableString({ maxLength: 2200, description: 'An http(s) URL, or for an uploaded avatar a signed link /files/{id}?exp=...&sig=... that needs no token until `exp` (fresh in every response and event); null when none.' })

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
  size: Type.Integer({ format: 'int64', minimum: 0, maximum: 2 ** 40, description: 'Size in bytes of the stored file (for images: of the stored, re-encoded image).' }),
  mimeType: Type.String({ maxLength: 255 }),
  url: Type.String({ maxLength: 64, description: 'Where to download it with the bearer token: /files/{id}.' }),
  downloadUrl: Type.String({ maxLength: 256, description: 'The same resource as a signed link, /files/{id}?exp=...&sig=..., that needs no token until `exp` (FILE_URL_TTL_SECONDS after it was handed out, rounded up to at most 5 minutes more): for `<img src>` and plain links (pages on another origin may embed it only when the server allows browser clients on other origins, CORS_ORIGINS: otherwise its Cross-Origin-Resource-Policy is same-origin). Every response and event carries a fresh one; an expired or altered link is 401 LINK_INVALID.' }),
  width: Type.Union([Type.Integer({ format: 'int32', minimum: 1, maximum: 1000000 }), Type.Null()], { description: 'Images: width in pixels of the stored image (orientation applied). Null for files.' }),
  height: Type.Union([Type.Integer({ format: 'int32', minimum: 1, maximum: 1000000 }), Type.Null()], { description: 'Images: height in pixels (of one frame, for an animation). Null for files.' }),
  thumbnailUrl: NullableString({ maxLength: 256, description: 'Images: a signed link, like downloadUrl, to a WebP of at most 320x320 pixels (aspect kept). Null for files.' })
}, { $id: 'FileRef' })
export type FileRef = Static<typeof FileRefSchema>

export const ReactionSchema = Type.Object({
  emoji: Type.String({ minLength: 1, maxLength: 16, description: 'The reaction: 1-16 Unicode code points, no whitespace or control characters.' }),
  userIds: Type.Array(Uuid(), { minItems: 1, maxItems: 2, description: 'Who reacted with it (the two parties of the conversation may react), in order of first use.' })
}, { $id: 'Reaction', description: 'One reaction of a message and the users who added it.' })
export type Reaction = Static<typeof ReactionSchema>

export const MessageSchema = Type.Object({
  id: Uuid(),
  senderId: Uuid(),
  receiverId: Uuid(),
  kind: Type.Union([Type.Literal('text'), Type.Literal('file'), Type.Literal('image')]),
  content: NullableString({ maxLength: 10000, description: 'Text messages only.' }),
  file: Type.Union([ref(FileRefSchema), Type.Null()], { description: 'File and image messages only.' }),
  createdAt: Timestamp(),
  readAt: Type.Union([Timestamp(), Type.Null()], { description: 'When the receiver first marked it read.' }),
  editedAt: Type.Union([Timestamp(), Type.Null()], { description: 'When the sender last edited it (text messages only); null when never edited.' }),
  reactions: Type.Array(ref(ReactionSchema), { maxItems: 40, description: 'Grouped by emoji, in order of first use (each user adds at most 20 different ones).' })
}, { $id: 'Message' })
export type Message = Static<typeof MessageSchema>

export const ConversationSchema = Type.Object({
  peer: ref(PublicUserSchema),
  lastMessage: Type.Union([ref(MessageSchema), Type.Null()], { description: 'Null when the caller cleared the conversation after its last message.' }),
  unreadCount: Type.Integer({ format: 'int64', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Messages from the peer to the caller not yet read (and not cleared).' })
}, { $id: 'Conversation' })
export type Conversation = Static<typeof ConversationSchema>

export const SessionInfoSchema = Type.Object({
  id: Uuid('The session id (what DELETE /auth/sessions/{sessionId} takes).'),
  current: Type.Boolean({ description: 'True for the session of the token making this call.' }),
  createdAt: Timestamp('When the login that created it happened.'),
  lastUsedAt: Timestamp('When it last made a request, to within a minute: the server writes it at most once a minute per session.'),
  expiresAt: Timestamp('When it ends unless renewed (POST /auth/token-login).'),
  userAgent: Type.Union([Type.String({ maxLength: 512 }), Type.Null()], { description: 'The User-Agent header of the login (control characters removed, at most 512 code points); null when none was sent.' })
}, { $id: 'SessionInfo', description: 'One of your sessions: a signed-in device or browser.' })
export type SessionInfo = Static<typeof SessionInfoSchema>

const Range = (what: string) => Type.Object({
  min: Type.Integer({ format: 'int32', minimum: 0, maximum: 100000, description: `Fewest ${what}.` }),
  max: Type.Integer({ format: 'int32', minimum: 0, maximum: 100000, description: `Most ${what}.` })
})
const Int32 = (description: string) => Type.Integer({ format: 'int32', minimum: 1, maximum: 2 ** 31 - 1, description })
const Int64 = (description: string) => Type.Integer({ format: 'int64', minimum: 1, maximum: 2 ** 50, description })

export const LimitsSchema = Type.Object({
  maxUploadBytes: Int64('Largest file, image or avatar upload, in bytes (MAX_UPLOAD_BYTES); larger is 413.'),
  maxMessageLength: Int32('Longest text message, in Unicode code points.'),
  usernameLength: Range('code points in a username'),
  passwordLength: Range('characters in a password'),
  imageTypes: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 16, description: 'Media types accepted as images (judged by the bytes).' }),
  historyPageMax: Int32('Largest `limit` of a history page.'),
  maxStreamsPerUser: Int32('Event streams a user may hold at once (MAX_STREAMS_PER_USER).'),
  storageQuotaBytes: Int64('Bytes a user may have stored: files and images sent, avatar (STORAGE_QUOTA_BYTES).'),
  fileUrlTtlSeconds: Int32('How long a signed downloadUrl or thumbnailUrl works after it is handed out (FILE_URL_TTL_SECONDS).')
}, { $id: 'Limits', description: 'What this server accepts, from its configuration: check before sending.' })
export type Limits = Static<typeof LimitsSchema>

export const MODEL_SCHEMAS = [UserSchema, PublicUserSchema, ContactSchema, SessionSchema, FileRefSchema, ReactionSchema, MessageSchema, ConversationSchema, SessionInfoSchema, LimitsSchema]
