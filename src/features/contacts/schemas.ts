// Request and response shapes of /contacts.
import { Type } from '@sinclair/typebox'
import { ref, Uuid } from '../../schemas/common.ts'
import { ContactSchema, MAX_LISTED } from '../../schemas/models.ts'

export const AddContactBodySchema = Type.Object({
  userId: Type.Optional(Uuid('The user to add. Send exactly one of userId and username.')),
  username: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'The user to add, by username (case-insensitive).' }))
}, { additionalProperties: false, description: 'Exactly one of userId and username.' })

export const ContactListSchema = Type.Object({ contacts: Type.Array(ref(ContactSchema), { maxItems: MAX_LISTED, description: 'Ordered by username; at most the first 10,000.' }) })

export const ContactParamsSchema = Type.Object({ contactId: Uuid() })
