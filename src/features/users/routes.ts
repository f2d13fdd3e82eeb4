// /users: your own profile, and finding other users.
import { AppError } from '../../errors.ts'
import { errorResponse, ref, unauthorizedResponse } from '../../schemas/common.ts'
import { PublicUserSchema, UserSchema } from '../../schemas/models.ts'
import type { App } from '../../types.ts'
import { discardUnreadBody, documentMultipartBody } from '../../plugins/multipart.ts'
import { AvatarFormSchema, SearchQuerySchema, UpdateMeBodySchema, UserIdParamsSchema, UserListSchema } from './schemas.ts'
import type { UsersService } from './service.ts'

export default async function usersRoutes (app: App, { users }: { users: UsersService }) {
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

  // Wrong password guesses are counted per user and per client address (right ones never are).
  const guesses = [
    app.failureBudget('password-user', app.config.rateLimitAuthPerMinute, (request) => request.auth.userId),
    app.failureBudget('password-ip', app.config.rateLimitAuthPerMinute, (request) => request.ip)
  ]
  const checksPassword = (body: { password?: unknown, email?: unknown }) => body.password !== undefined || body.email !== undefined

  app.patch('/me', {
    preHandler: async (request, reply) => {
      if (checksPassword(request.body)) for (const budget of guesses) await budget.check(request, reply)
    },
    schema: {
      operationId: 'updateMe',
      summary: 'Change your profile or password',
      description: 'Only the fields sent change. Changing the password or the email needs `currentPassword` (sending the unchanged email does not); a password change revokes every other session of the user (their streams get `session.revoked`). Wrong `currentPassword` guesses are limited to RATE_LIMIT_AUTH_PER_MINUTE per user and per client address: past that, any request that sends `password` or `email` is 429 until the window ends, even with the right password. Sends `profile.updated` to your streams.',
      tags: ['users'],
      security: [{ bearerAuth: [] }],
      body: UpdateMeBodySchema,
      response: {
        200: ref(UserSchema),
        400: errorResponse('VALIDATION_ERROR or INVALID_JSON.'),
        401: unauthorizedResponse,
        403: errorResponse('WRONG_PASSWORD: currentPassword is missing or wrong.'),
        429: errorResponse('RATE_LIMITED: too many wrong currentPassword guesses for this user or from this address, or over RATE_LIMIT_PER_MINUTE; see Retry-After.'),
        409: errorResponse('USERNAME_TAKEN or EMAIL_TAKEN.'),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE')
      }
    }
  }, async (request) => {
    try {
      return await users.updateProfile(request.auth, request.body)
    } catch (err) {
      if (err instanceof AppError && err.code === 'WRONG_PASSWORD') for (const budget of guesses) await budget.charge(request)
      throw err
    }
  })

  app.get('', {
    schema: {
      operationId: 'searchUsers',
      summary: 'Find users by username prefix',
      description: 'Case-insensitive prefix search, ordered by username. You are not in the results, nor is anyone who has blocked you; users you have blocked are, shown offline.',
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
      description: 'With live online status; a user you have blocked, or who has blocked you, shows offline.',
      tags: ['users'],
      security: [{ bearerAuth: [] }],
      params: UserIdParamsSchema,
      response: { 200: ref(PublicUserSchema), 400: errorResponse('VALIDATION_ERROR: id is not a UUID.'), 401: unauthorizedResponse, 404: errorResponse('USER_NOT_FOUND') }
    }
  }, async (request) => users.getPublic(request.auth.userId, request.params.id))

  app.put('/me/avatar', {
    config: { swaggerTransform: documentMultipartBody(AvatarFormSchema) },
    onSend: discardUnreadBody,
    schema: {
      operationId: 'uploadAvatar',
      summary: 'Upload your avatar',
      description: 'A `multipart/form-data` body with one image part `file` (PNG, JPEG, GIF or WebP, judged by its bytes, at most MAX_UPLOAD_BYTES and 50 megapixels). The image is stored re-encoded, at most 512x512 (aspect kept), orientation applied and metadata stripped. Sets `avatarUrl` to a signed link to it (`/files/{id}?exp=...&sig=...`, fresh in every answer, no token needed); with the token, `/files/{id}` can be read by any signed-in user; your previous uploaded avatar is deleted. Sends `profile.updated` to your streams.',
      tags: ['users'],
      security: [{ bearerAuth: [] }],
      response: {
        200: ref(UserSchema),
        400: errorResponse('VALIDATION_ERROR: no part `file`, an unknown part, or a malformed multipart body.'),
        401: unauthorizedResponse,
        413: errorResponse('PAYLOAD_TOO_LARGE: the image is larger than MAX_UPLOAD_BYTES, or too many parts; IMAGE_TOO_LARGE: over 50 megapixels. Nothing is stored.'),
        415: errorResponse('UNSUPPORTED_IMAGE: not PNG, JPEG, GIF or WebP, or it cannot be decoded; UNSUPPORTED_MEDIA_TYPE: the body is not multipart/form-data. Nothing is stored.')
      }
    }
  }, async (request) => users.setAvatar(request.auth, request.parts()))
}
