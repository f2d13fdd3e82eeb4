// Bearer-token authentication: a JWT (HS256 only) names a session, and the session must be live in the
// database on every request, so logout and password changes revoke at once on every instance.
import fastifyJwt from '@fastify/jwt'
import { and, gt, isNull, sql } from 'drizzle-orm'
import { anyUuid } from '../db/arrays.ts'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { sessions } from '../db/schema.ts'
import { AppError } from '../errors.ts'
import { Batcher } from '../lib/batcher.ts'

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
    tokens: {
      issue: (session: { id: string, userId: string, expiresAt: Date }) => string
      /** Checks signature, algorithm and expiry; the session's liveness is checked separately. */
      verify: (token: string) => AuthContext
      /** The session named by a token, if it is live. */
      liveSession: (token: string) => Promise<AuthContext>
      /** Which of these sessions are live (not revoked, not expired), with their users. */
      liveSessions: (ids: string[]) => Promise<Map<string, string>>
    }
  }
  interface FastifyContextConfig {
    /** Also accept the token as the access_token query parameter (for EventSource). */
    acceptsQueryToken?: boolean
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value)

async function authPlugin (app: FastifyInstance, options: { secret: string }) {
  await app.register(fastifyJwt, {
    secret: options.secret,
    sign: { algorithm: 'HS256' },
    verify: { algorithms: ['HS256'] }
  })

  const verify = (token: string): AuthContext => {
    let claims: TokenClaims
    try {
      claims = app.jwt.verify<TokenClaims>(token)
    } catch {
      throw new AppError('TOKEN_INVALID')
    }
    // Claims go into uuid columns: anything else would be a database error (500), not a 401.
    if (!isUuid(claims.sid) || !isUuid(claims.sub) || typeof claims.exp !== 'number') throw new AppError('TOKEN_INVALID')
    return { userId: claims.sub, sessionId: claims.sid }
  }

  // Concurrent requests share one query for their session checks (each request still sees the live state).
  const checks = new Batcher<string, Map<string, string>>(async (ids) => {
    const rows = await app.db.select({ id: sessions.id, userId: sessions.userId }).from(sessions).where(and(
      anyUuid(sessions.id, [...new Set(ids)]),
      isNull(sessions.revokedAt),
      gt(sessions.expiresAt, sql`now()`)
    ))
    const live = new Map(rows.map((row) => [row.id, row.userId]))
    return ids.map(() => live)
  }, { maxBatch: 500, maxInFlight: 1 })

  const liveSessions = async (ids: string[]): Promise<Map<string, string>> => {
    const answers = await Promise.all(ids.map((id) => checks.submit(id)))
    return new Map(ids.flatMap((id, i) => answers[i]!.has(id) ? [[id, answers[i]!.get(id)!] as const] : []))
  }

  const liveSession = async (token: string): Promise<AuthContext> => {
    const auth = verify(token)
    const live = await liveSessions([auth.sessionId])
    if (live.get(auth.sessionId) !== auth.userId) throw new AppError('TOKEN_INVALID')
    return auth
  }

  app.decorate('tokens', {
    issue: (session) => app.jwt.sign({ sub: session.userId, sid: session.id, exp: Math.floor(session.expiresAt.getTime() / 1000) }),
    verify,
    liveSession,
    liveSessions
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

export default fp(authPlugin, { name: 'auth', dependencies: ['db'] })
