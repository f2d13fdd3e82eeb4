// Registration, logins and logout. Every login creates a database session that the bearer token names.
import type { FastifyInstance } from 'fastify'
import { fail } from '../../errors.ts'
import type { Session } from '../../schemas/models.ts'
import { UsersService } from '../users/service.ts'
import { insertSession, renewSession, revokeSession, type SessionRow } from './repository.ts'

export class AuthService {
  private readonly users: UsersService

  constructor (private readonly app: FastifyInstance) {
    this.users = new UsersService(app)
  }

  async register (input: { username: string, password: string, email: string }): Promise<Session> {
    const user = await this.users.create(input)
    return this.session(await insertSession(this.app.db, user.id, this.app.config.tokenTtlSeconds))
  }

  async login (input: { username: string, password: string }): Promise<Session> {
    const userId = await this.users.checkPassword(input.username, input.password)
    if (userId === undefined) fail('INVALID_CREDENTIALS')
    return this.session(await insertSession(this.app.db, userId, this.app.config.tokenTtlSeconds))
  }

  /** A renewed token (and expiry) for the same session. */
  async tokenLogin (token: string): Promise<Session> {
    const row = await renewSession(this.app.db, this.app.tokens.verify(token), this.app.config.tokenTtlSeconds)
    if (row === undefined) fail('TOKEN_INVALID')
    return this.session(row)
  }

  async logout (auth: { userId: string, sessionId: string }): Promise<void> {
    await revokeSession(this.app.db, auth.sessionId)
    await this.app.events.sessionsRevoked(auth.userId)
  }

  private async session (row: SessionRow): Promise<Session> {
    const user = await this.users.me(row.userId)
    return { user, token: this.app.tokens.issue(row), expiresAt: row.expiresAt.toISOString() }
  }
}
