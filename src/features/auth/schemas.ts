// Request and response shapes of the auth endpoints.
import { Type } from '@sinclair/typebox'
import { ref, Uuid } from '../../schemas/common.ts'
import { Email, Password, SessionInfoSchema, Username } from '../../schemas/models.ts'

export const RegisterBodySchema = Type.Object({
  username: Username(),
  password: Password(),
  email: Email()
}, { additionalProperties: false })

export const LoginBodySchema = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 64, description: 'Matched without regard to case.' }),
  password: Type.String({ minLength: 1, maxLength: 256 })
}, { additionalProperties: false })

export const TokenLoginBodySchema = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 4096, description: 'A token from an earlier register, login or token-login.' })
}, { additionalProperties: false })

export const SessionListSchema = Type.Object({
  sessions: Type.Array(ref(SessionInfoSchema), { maxItems: 10000, description: 'Newest first.' })
})

export const SessionParamsSchema = Type.Object({ sessionId: Uuid('One of your sessions (SessionInfo.id).') })
