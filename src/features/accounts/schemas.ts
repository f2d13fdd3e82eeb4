// Request shapes of account deletion.
import { Type } from '@sinclair/typebox'

export const DeleteAccountBodySchema = Type.Object({
  password: Type.String({ minLength: 1, maxLength: 256, description: 'Your current password.' })
}, { additionalProperties: false })
