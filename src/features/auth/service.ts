// Registration, logins and logout. Every login creates a database session that the bearer token names.
import { missingReferencedRow } from '../../db/errors.ts'
import { AppError, fail } from '../../errors.ts'
import type { Tokens } from '../../plugins/auth.ts'
import type { Session } from '../../schemas/models.ts'
import type { SessionRow, SessionsService } from '../sessions/service.ts'
import type { UsersService } from '../users/service.ts'

export class AuthService {
  constructor (
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly tokens: Tokens
  ) {}

  /** `userAgent`: the request's User-Agent header, shown in the session list to tell devices apart. */
  async register (input: { username: string, password: string, email: string }, userAgent?: string): Promise<Session> {
    const user = await this.users.create(input)
    return this.session(await this.sessions.create(user.id, userAgent))
  }

  async login (input: { username: string, password: string }, userAgent?: string): Promise<Session> {
    const userId = await this.users.checkPassword(input.username, input.password)
    if (userId === undefined) fail('INVALID_CREDENTIALS')
    try {
      return this.session(await this.sessions.create(userId, userAgent))
    } catch (err) {
      // The account was deleted since its password was checked: as if it never existed.
      if (missingReferencedRow(err) === 'users' || (err instanceof AppError && err.code === 'USER_NOT_FOUND')) fail('INVALID_CREDENTIALS')
      throw err
    }
  }

  /** A renewed token (and expiry) for the same session. */
  async tokenLogin (token: string): Promise<Session> {
    const row = await this.sessions.renew(this.tokens.verify(token))
    if (row === undefined) fail('TOKEN_INVALID')
    return this.session(row)
  }

  async logout (auth: { userId: string, sessionId: string }): Promise<void> {
    await this.sessions.revoke(auth)
  }

  private async session (row: SessionRow): Promise<Session> {
    const user = await this.users.me(row.userId)
    return { user, token: this.tokens.issue(row), expiresAt: row.expiresAt.toISOString() }
  }
}
