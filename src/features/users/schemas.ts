// Request shapes of the /users endpoints.
import { Type } from '@sinclair/typebox'
import { Binary, Uuid } from '../../schemas/common.ts'
import { AvatarUrl, Email, Password, PublicUserSchema, Username } from '../../schemas/models.ts'
import { ref } from '../../schemas/common.ts'

export const UpdateMeBodySchema = Type.Object({
  username: Type.Optional(Username()),
  email: Type.Optional(Email()),
  avatarUrl: Type.Optional(AvatarUrl()),
  password: Type.Optional(Password('The new password, 8-256 characters. Needs currentPassword; ends every other session.')),
  currentPassword: Type.Optional(Type.String({ maxLength: 256, description: 'Required to change the password or the email.' }))
}, { additionalProperties: false })

export const SearchQuerySchema = Type.Object({
  search: Type.String({ minLength: 1, maxLength: 32, description: 'Username prefix, matched without regard to case.' }),
  limit: Type.Optional(Type.Integer({ format: 'int32', minimum: 1, maximum: 100, default: 20, description: 'At most this many users (default 20).' }))
}, { additionalProperties: false })

export const UserListSchema = Type.Object({ users: Type.Array(ref(PublicUserSchema), { maxItems: 100 }) }, { description: 'The matching users, ordered by username.' })

export const UserIdParamsSchema = Type.Object({ id: Uuid() })

export const AvatarFormSchema = Type.Object({
  file: Binary('A PNG, JPEG, GIF or WebP image, judged by its bytes, at most MAX_UPLOAD_BYTES.')
}, { additionalProperties: false })
