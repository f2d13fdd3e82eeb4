// /users: your own profile, and finding other users.
import { errorResponse, ref, unauthorizedResponse } from '../../schemas/common.ts'
import { PublicUserSchema, UserSchema } from '../../schemas/models.ts'
import type { App } from '../../types.ts'
import { SearchQuerySchema, UpdateMeBodySchema, UserIdParamsSchema, UserListSchema } from './schemas.ts'
import { FilesService } from '../files/service.ts'
import { UsersService } from './service.ts'


export default async function usersRoutes (app: App) {
  const users = new UsersService(app)
  // Profile changes go through the files feature, which owns stored avatars (an unreferenced one is removed).
  const files = new FilesService(app)
  app.addHook('onRequest', app.authenticate)

  app.get('/me', {
    schema: {
      operationId: 'getMe',
      summary: 'Your own account',
      tags: ['users'],
      security: [{ bearerAuth: [] }],
      response: { 200: ref(UserSchema), 401: unauthorizedResponse }
    }
  }, async (request) => users.me(request.auth.userId))

  app.patch('/me', {
    schema: {
      operationId: 'updateMe',
      summary: 'Change your profile or password',
      description: 'Only the fields sent change. Changing the password needs `currentPassword` and revokes every other session of the user (their streams get `session.revoked`). Sends `profile.updated` to your streams.',
      tags: ['users'],
      security: [{ bearerAuth: [] }],
      body: UpdateMeBodySchema,
      response: {
        200: ref(UserSchema),
        400: errorResponse('VALIDATION_ERROR or INVALID_JSON.'),
        401: unauthorizedResponse,
        403: errorResponse('WRONG_PASSWORD: currentPassword is missing or wrong.'),
        409: errorResponse('USERNAME_TAKEN or EMAIL_TAKEN.'),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE')
      }
    }
  }, async (request) => files.updateProfile(request.auth, request.body))

  app.get('', {
    schema: {
      operationId: 'searchUsers',
      summary: 'Find users by username prefix',
      description: 'Case-insensitive prefix search, ordered by username; you are not in the results.',
      tags: ['users'],
      security: [{ bearerAuth: [] }],
      querystring: SearchQuerySchema,
      response: { 200: UserListSchema, 400: errorResponse('VALIDATION_ERROR'), 401: unauthorizedResponse }
    }
  }, async (request) => ({ users: await users.search(request.auth.userId, request.query.search, request.query.limit ?? 20) }))

  app.get('/:id', {
    schema: {
      operationId: 'getUser',
      summary: 'A user\'s public profile',
      tags: ['users'],
      security: [{ bearerAuth: [] }],
      params: UserIdParamsSchema,
      response: { 200: ref(PublicUserSchema), 400: errorResponse('VALIDATION_ERROR: id is not a UUID.'), 401: unauthorizedResponse, 404: errorResponse('USER_NOT_FOUND') }
    }
  }, async (request) => users.getPublic(request.params.id))
}
