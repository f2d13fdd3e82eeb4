// /auth: register, password login, token login (renewal), logout, and the caller's sessions (devices).
import { Type } from '@sinclair/typebox'
import { errorResponse, ref, unauthorizedResponse } from '../../schemas/common.ts'
import { SessionSchema } from '../../schemas/models.ts'
import type { App } from '../../types.ts'
import type { SessionsService } from '../sessions/service.ts'
import { LoginBodySchema, RegisterBodySchema, SessionListSchema, SessionParamsSchema, TokenLoginBodySchema } from './schemas.ts'
import type { AuthService } from './service.ts'

const tooMany = errorResponse('RATE_LIMITED: too many attempts from this address (RATE_LIMIT_AUTH_PER_MINUTE per endpoint), or for this username; see Retry-After.')
const invalid = errorResponse('VALIDATION_ERROR or INVALID_JSON: the body is not valid; the message names the field.')

const REVOKED = 'A revoked session behaves exactly as after logout, on every instance: its tokens are 401 at once and its event streams get `session.revoked` and are closed.'

export default async function authRoutes (app: App, { auth, sessions }: { auth: AuthService, sessions: SessionsService }) {
  // Guessing is limited per client address (each endpoint its own budget) and per target username (so that
  // clients sharing an address, behind a proxy or NAT, do not share one budget for every account).
  const max = app.config.rateLimitAuthPerMinute
  const perAddress = (route: string) => app.budget(`auth-ip:${route}`, max, (request) => request.ip)
  const perUsername = (route: string) => app.budget(`auth-user:${route}`, max, (request) => {
    const username = (request.body as { username?: unknown } | undefined)?.username
    return typeof username === 'string' ? username.toLowerCase() : undefined
  })

  app.post('/register', {
    onRequest: perAddress('register'),
    preHandler: perUsername('register'),
    schema: {
      operationId: 'register',
      security: [],
      summary: 'Create an account and sign in',
      description: 'Creates the user and a session. Usernames and emails are unique without regard to case. The request\'s User-Agent is kept with the session (GET /auth/sessions).',
      tags: ['auth'],
      body: RegisterBodySchema,
      response: {
        201: { ...ref(SessionSchema), description: 'The new user\'s session.' },
        400: invalid,
        409: errorResponse('USERNAME_TAKEN or EMAIL_TAKEN.'),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE: send application/json.'),
        429: tooMany
      }
    }
  }, async (request, reply) => {
    reply.code(201)
    return auth.register(request.body, request.headers['user-agent'])
  })

  app.post('/login', {
    onRequest: perAddress('login'),
    preHandler: perUsername('login'),
    schema: {
      operationId: 'login',
      security: [],
      summary: 'Sign in with username and password',
      description: 'Creates a new session (a device in GET /auth/sessions, with the request\'s User-Agent). Unknown users and wrong passwords get the same answer in about the same time.',
      tags: ['auth'],
      body: LoginBodySchema,
      response: {
        200: { ...ref(SessionSchema), description: 'A new session.' },
        400: invalid,
        401: errorResponse('INVALID_CREDENTIALS'),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE'),
        429: tooMany
      }
    }
  }, async (request) => auth.login(request.body, request.headers['user-agent']))

  app.post('/token-login', {
    onRequest: perAddress('token-login'),
    schema: {
      operationId: 'tokenLogin',
      security: [],
      summary: 'Renew a token',
      description: 'Answers a new token for the same session, with a renewed expiry: TOKEN_TTL_SECONDS from now, but never more than SESSION_MAX_AGE_SECONDS after the login (past that, sign in again: 401). The old token keeps working until it expires or the session is revoked; the session\'s streams stay open.',
      tags: ['auth'],
      body: TokenLoginBodySchema,
      response: {
        200: { ...ref(SessionSchema), description: 'The same session with a renewed token.' },
        400: invalid,
        401: errorResponse('TOKEN_INVALID: invalid, expired or revoked.'),
        413: errorResponse('PAYLOAD_TOO_LARGE'),
        415: errorResponse('UNSUPPORTED_MEDIA_TYPE'),
        429: tooMany
      }
    }
  }, async (request) => auth.tokenLogin(request.body.token))

  app.register(async (authenticated: App) => {
    authenticated.addHook('onRequest', app.authenticate)
    authenticated.post('/logout', {
      schema: {
        operationId: 'logout',
        summary: 'Sign out',
        description: 'Revokes the session of the token used, at once on every instance: its tokens stop working and its event streams get `session.revoked` and are closed.',
        tags: ['auth'],
        security: [{ bearerAuth: [] }],
        response: {
          204: Type.Null({ description: 'Signed out.' }),
          401: unauthorizedResponse
        }
      }
    }, async (request, reply) => {
      await auth.logout(request.auth)
      return reply.code(204).send(null)
    })

    authenticated.get('/sessions', {
      schema: {
        operationId: 'listSessions',
        summary: 'Your signed-in devices',
        description: 'Your live sessions (not revoked, not expired), one per login, newest first; the one making this call has `current: true`. `lastUsedAt` is accurate to a minute: it is written at most once a minute per session, so requests cost no extra write.',
        tags: ['auth'],
        security: [{ bearerAuth: [] }],
        response: { 200: SessionListSchema, 401: unauthorizedResponse }
      }
    }, async (request) => ({ sessions: await sessions.list(request.auth) }))

    authenticated.delete('/sessions/:sessionId', {
      schema: {
        operationId: 'revokeSession',
        summary: 'Sign out one of your devices',
        description: `Revokes one of your live sessions (the current one too: that is a logout). ${REVOKED}`,
        tags: ['auth'],
        security: [{ bearerAuth: [] }],
        params: SessionParamsSchema,
        response: {
          204: Type.Null({ description: 'Revoked.' }),
          400: errorResponse('VALIDATION_ERROR: sessionId is not a UUID.'),
          401: unauthorizedResponse,
          404: errorResponse('SESSION_NOT_FOUND: not a live session of yours (another user\'s, unknown, already revoked or expired).')
        }
      }
    }, async (request, reply) => {
      await sessions.revokeOne(request.auth, request.params.sessionId)
      return reply.code(204).send(null)
    })

    authenticated.delete('/sessions', {
      schema: {
        operationId: 'revokeOtherSessions',
        summary: 'Sign out every other device',
        description: `Revokes every session of yours except the one making this call. ${REVOKED}`,
        tags: ['auth'],
        security: [{ bearerAuth: [] }],
        response: {
          204: Type.Null({ description: 'Every other session revoked.' }),
          401: unauthorizedResponse
        }
      }
    }, async (request, reply) => {
      await sessions.revokeAllButCurrent(request.auth)
      return reply.code(204).send(null)
    })
  })
}
