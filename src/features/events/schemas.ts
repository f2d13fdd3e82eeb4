// The event stream's events: each data shape is a named schema, so SDK authors can type them.
import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { ref, Timestamp, Uuid } from '../../schemas/common.ts'
import { ContactSchema, MAX_LISTED, MessageSchema, UserSchema } from '../../schemas/models.ts'

export const ReadyEventSchema = Type.Object({
  userId: Uuid(),
  lastEventId: Type.String({ pattern: '^\\d+$', maxLength: 20, description: 'Id of the user\'s newest durable event when the stream opened ("0" when none).' })
}, { $id: 'ReadyEvent', description: '`event: ready` (no id): first event of every stream.' })

export const MessageReadEventSchema = Type.Object({
  messageIds: Type.Array(Uuid(), { maxItems: MAX_LISTED, description: 'At most 10,000: one read call marks at most that many.' }),
  readerId: Uuid(),
  readAt: Timestamp()
}, { $id: 'MessageReadEvent', description: '`event: message.read`: to the sender and the reader.' })
export type MessageReadEvent = Static<typeof MessageReadEventSchema>

export const HistoryClearedEventSchema = Type.Object({
  peerId: Uuid(),
  clearedAt: Timestamp()
}, { $id: 'HistoryClearedEvent', description: '`event: history.cleared`: to the user who cleared.' })
export type HistoryClearedEvent = Static<typeof HistoryClearedEventSchema>

export const ContactRemovedEventSchema = Type.Object({
  contactId: Uuid()
}, { $id: 'ContactRemovedEvent', description: '`event: contact.removed`: to the owner of the list.' })
export type ContactRemovedEvent = Static<typeof ContactRemovedEventSchema>

export const BlockEventSchema = Type.Object({
  userId: Uuid('The user blocked or unblocked.')
}, { $id: 'BlockEvent', description: '`event: block.added` / `block.removed`: to the blocker\'s streams (their other devices). The blocked user gets no event.' })
export type BlockEvent = Static<typeof BlockEventSchema>

export const UserDeletedEventSchema = Type.Object({
  userId: Uuid('The deleted account.')
}, { $id: 'UserDeletedEvent', description: '`event: user.deleted`: to everyone who had the user as a contact, had a conversation with them or had blocked them. Drop the user from contacts, conversations, blocks and history: none of it exists any more.' })
export type UserDeletedEvent = Static<typeof UserDeletedEventSchema>
export const MessageDeletedEventSchema = Type.Object({
  messageId: Uuid(),
  peerId: Uuid('The other user of the conversation, as seen by the receiver of this event.'),
  for: Type.Union([Type.Literal('me'), Type.Literal('everyone')], { description: '"me": deleted for you only (by you, on another device perhaps); "everyone": the sender deleted it for both of you.' })
}, { $id: 'MessageDeletedEvent', description: '`event: message.deleted`: to the user who deleted it (`for: me`) or to both parties (`for: everyone`). The message is gone from history, the conversation list and unread counts; its earlier events are no longer replayed.' })
export type MessageDeletedEvent = Static<typeof MessageDeletedEventSchema>

export const TypingEventSchema = Type.Object({
  userId: Uuid('Who is typing to you.'),
  typing: Type.Boolean({ description: 'True: typing; show it for 6 s unless repeated. False: stopped.' })
}, { $id: 'TypingEvent', description: '`event: typing` (no id, not replayed): to the peer\'s streams on every instance, at most one a second per pair.' })
export type TypingEvent = Static<typeof TypingEventSchema>

export const PresenceEventSchema = Type.Object({
  userId: Uuid(),
  online: Type.Boolean()
}, { $id: 'PresenceEvent', description: '`event: presence` (no id, not replayed): to everyone who has the user as a contact.' })
export type PresenceEvent = Static<typeof PresenceEventSchema>

export const SessionRevokedEventSchema = Type.Object({}, {
  $id: 'SessionRevokedEvent',
  description: '`event: session.revoked` (no id): the session of this stream ended (logout, a password change elsewhere, revoked from another device, the account deleted, or the session expired: streams are checked every 5 s); the server then closes the stream. Renewing the token (token login) before it expires keeps the stream open.'
})

export const ResetEventSchema = Type.Object({
  reason: Type.Union([Type.Literal('expired'), Type.Literal('unknown')], {
    description: '"expired": the requested id is older than the oldest kept event. "unknown": the id is newer than any event of the user (for example from another server). Either way: reload state by REST; the stream continues live.'
  })
}, { $id: 'ResetEvent', description: '`event: reset` (no id): the resume point cannot be served.' })

/** Durable events: stored, numbered per user, replayed on resume. */
export const DURABLE_EVENTS = {
  'message.created': MessageSchema,
  'message.read': MessageReadEventSchema,
  'history.cleared': HistoryClearedEventSchema,
  'contact.added': ContactSchema,
  'contact.removed': ContactRemovedEventSchema,
  'profile.updated': UserSchema,
  'block.added': BlockEventSchema,
  'block.removed': BlockEventSchema,
  'user.deleted': UserDeletedEventSchema,
  'message.updated': MessageSchema,
  'message.deleted': MessageDeletedEventSchema
} satisfies Record<string, TSchema>

export type DurableEventType = keyof typeof DURABLE_EVENTS
export type DurableEventData = { [K in DurableEventType]: Static<(typeof DURABLE_EVENTS)[K]> }

const TRANSIENT_EVENTS = {
  ready: ReadyEventSchema,
  presence: PresenceEventSchema,
  typing: TypingEventSchema,
  'session.revoked': SessionRevokedEventSchema,
  reset: ResetEventSchema
}

/** One frame of the stream, as a discriminated union on `event`: the shape SDKs can parse frames into. */
export const StreamEventSchema = Type.Union([
  ...Object.entries(DURABLE_EVENTS).map(([type, schema]) => Type.Object({
    id: Type.String({ pattern: '^\\d+$', maxLength: 20, description: 'Per-user sequence number; send it back as Last-Event-ID to resume.' }),
    event: Type.Literal(type),
    data: ref(schema)
  })),
  ...Object.entries(TRANSIENT_EVENTS).map(([type, schema]) => Type.Object({
    event: Type.Literal(type),
    data: ref(schema)
  }))
], { $id: 'StreamEvent', description: 'A Server-Sent Events frame: `id:` (durable events only), `event:` and one line of JSON `data:`.' })

export const EVENT_SCHEMAS = [ReadyEventSchema, MessageReadEventSchema, HistoryClearedEventSchema, ContactRemovedEventSchema, MessageDeletedEventSchema, BlockEventSchema, UserDeletedEventSchema, TypingEventSchema, PresenceEventSchema, SessionRevokedEventSchema, ResetEventSchema, StreamEventSchema]

export const EventsQuerySchema = Type.Object({
  access_token: Type.Optional(Type.String({ maxLength: 4096, description: 'The bearer token, for clients that cannot set headers (browsers\' EventSource). Never logged.' })),
  lastEventId: Type.Optional(Type.String({ pattern: '^\\d{1,15}$', maxLength: 15, description: 'Resume after this event id (same as the Last-Event-ID header; the header wins when both are sent).' }))
}, { additionalProperties: false })

export const EventsHeadersSchema = Type.Object({
  'last-event-id': Type.Optional(Type.String({ pattern: '^\\d{1,15}$', maxLength: 15, description: 'Resume after this event id: every stored event after it is sent first, in order, then live ones.' }))
})
