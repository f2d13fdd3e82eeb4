// Bearer-token authentication: a JWT (HS256 only) names a session, and the session must be live in the
// database on every request, so logout and password changes revoke at once on every instance.
import fastifyJwt from '@fastify/jwt'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../errors.ts'
import { isUuid } from '../schemas/common.ts'

/** Signs and checks bearer tokens; a service that issues sessions receives it. */
export interface Tokens {
  issue: (session: { id: string, userId: string, expiresAt: Date }) => string
  /** Checks signature, algorithm and expiry; the session's liveness is checked separately. */
  verify: (token: string) => AuthContext
}

export interface AuthOptions {
  secret: string
  /** Which of these sessions are live (not revoked, not expired), with their users. */
  liveSessions: (ids: string[]) => Promise<Map<string, string>>
}

export interface AuthContext {
  userId: string
  sessionId: string
}

interface TokenClaims {
  sub: string
  sid: string
  exp: number
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext
  }
  interface FastifyInstance {
    /** onRequest hook: requires a live session. Apply it to the scopes that need it. */
    authenticate: (request: FastifyRequest) => Promise<void>
    tokens: Tokens
  }
  interface FastifyContextConfig {
    /** Also accept the token as the access_token query parameter (for EventSource). */
    acceptsQueryToken?: boolean
  }
}

const VERIFIED_TOKENS = 10_000
const VERIFIED_FOR_MS = 10 * 60_000

async function authPlugin (app: FastifyInstance, options: AuthOptions) {
  await app.register(fastifyJwt, {
    secret: options.secret,
    sign: { algorithm: 'HS256' },
    verify: { algorithms: ['HS256'] }
  })

  // Verified tokens are kept, keyed by the token itself (which cannot collide with another), until their expiry
  // and at most 10 minutes, the oldest dropped past 10,000: a request with a known token skips the HMAC and the
  // decoding (fast-jwt's own cache keys by the token's SHA-256, which costs a send 5% of its CPU). Only the
  // signature check is kept: the session's liveness is still checked on every request.
  const verified = new Map<string, { auth: AuthContext, until: number }>()

  const verify = (token: string): AuthContext => {
    const now = Date.now()
    const known = verified.get(token)
    if (known !== undefined) {
      if (known.until > now) return known.auth
      verified.delete(token)
    }
    let claims: TokenClaims
    try {
      claims = app.jwt.verify<TokenClaims>(token)
    } catch {
      throw new AppError('TOKEN_INVALID')
    }
    // Claims go into uuid columns: anything else would be a database error (500), not a 401.
    if (!isUuid(claims.sid) || !isUuid(claims.sub) || typeof claims.exp !== 'number') throw new AppError('TOKEN_INVALID')
    const auth = { userId: claims.sub, sessionId: claims.sid }
    if (verified.size >= VERIFIED_TOKENS) verified.delete(verified.keys().next().value!)
    verified.set(token, { auth, until: Math.min(claims.exp * 1000, now + VERIFIED_FOR_MS) })
    return auth
  }

  const liveSession = async (token: string): Promise<AuthContext> => {
    const auth = verify(token)
    const live = await options.liveSessions([auth.sessionId])
    if (live.get(auth.sessionId) !== auth.userId) throw new AppError('TOKEN_INVALID')
    return auth
  }

  app.decorate('tokens', {
    issue: (session) => app.jwt.sign({ sub: session.userId, sid: session.id, exp: Math.floor(session.expiresAt.getTime() / 1000) }),
    verify
  })

  app.decorateRequest('auth', null as unknown as AuthContext)

  app.decorate('authenticate', async (request: FastifyRequest) => {
    const header = request.headers.authorization
    let token: string | undefined
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header)
      if (match === null) throw new AppError('AUTH_REQUIRED', 'The Authorization header must be "Bearer <token>"')
      token = match[1]
    } else if (request.routeOptions.config.acceptsQueryToken) {
      const query = request.query as { access_token?: unknown }
      if (typeof query.access_token === 'string' && query.access_token !== '') token = query.access_token
    }
    if (token === undefined) throw new AppError('AUTH_REQUIRED')
    request.auth = await liveSession(token)
  })
}

export default fp(authPlugin, { name: 'auth' })
