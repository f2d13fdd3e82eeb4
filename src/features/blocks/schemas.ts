// Request and response shapes of /blocks.
import { Type } from '@sinclair/typebox'
import { ref, Uuid } from '../../schemas/common.ts'
import { PublicUserSchema } from '../../schemas/models.ts'

export const BlockParamsSchema = Type.Object({ userId: Uuid('The user to block or unblock.') })

export const BlockListSchema = Type.Object({
  users: Type.Array(ref(PublicUserSchema), { maxItems: 10000, description: 'The users you have blocked, by username; each shows offline (`online: false`) to you while blocked.' })
})
