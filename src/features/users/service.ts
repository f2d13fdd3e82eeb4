// Profiles: reading and changing your own, finding others (with their live online status).
import type { FastifyInstance } from 'fastify'
import type { Db } from '../../db/client.ts'
import { violatedUniqueConstraint } from '../../db/errors.ts'
import { AppError, fail } from '../../errors.ts'
import type { PublicUser, User } from '../../schemas/models.ts'
import { revokeOtherSessions } from '../auth/repository.ts'
import { existingUserIds, findCredentials, findPublicUser, findUser, insertUser, searchUsers, updateUser, type PublicUserRow } from './repository.ts'

export interface ProfileChanges {
  username?: string
  email?: string
  avatarUrl?: string | null
  password?: string
  currentPassword?: string
}

/** Maps a unique-index violation on users to the contract's 409 codes. */
function userConflict (err: unknown): AppError | undefined {
  const constraint = violatedUniqueConstraint(err)
  if (constraint === undefined) return undefined
  return new AppError(constraint.includes('email') ? 'EMAIL_TAKEN' : 'USERNAME_TAKEN')
}

export class UsersService {
  constructor (private readonly app: FastifyInstance) {}

  async create (input: { username: string, email: string, password: string }): Promise<User> {
    const passwordHash = await this.app.passwords.hash(input.password)
    try {
      return await insertUser(this.app.db, { username: input.username, email: input.email, passwordHash })
    } catch (err) {
      throw userConflict(err) ?? err
    }
  }

  /** The user id when the password is right; the same time is spent when the user does not exist. */
  async checkPassword (username: string, password: string): Promise<string | undefined> {
    const credentials = await findCredentials(this.app.db, { username })
    const ok = await this.app.passwords.verify(credentials?.passwordHash, password)
    return ok ? credentials?.id : undefined
  }

  async me (userId: string): Promise<User> {
    return (await findUser(this.app.db, userId)) ?? fail('USER_NOT_FOUND')
  }

  /** Changing the password needs the current one and ends every other session of the user. */
  async update (auth: { userId: string, sessionId: string }, changes: ProfileChanges): Promise<User> {
    const { password, currentPassword, ...profile } = changes
    let passwordHash: string | undefined
    if (password !== undefined) {
      const credentials = await findCredentials(this.app.db, { id: auth.userId })
      const ok = currentPassword !== undefined && await this.app.passwords.verify(credentials?.passwordHash, currentPassword)
      if (!ok) fail('WRONG_PASSWORD')
      passwordHash = await this.app.passwords.hash(password)
    }
    let user: User
    try {
      user = await this.app.events.transaction(async (tx, emit) => {
        const updated = await updateUser(tx, auth.userId, passwordHash === undefined ? profile : { ...profile, passwordHash })
        if (updated === undefined) fail('USER_NOT_FOUND')
        if (passwordHash !== undefined) await revokeOtherSessions(tx, auth.userId, auth.sessionId)
        emit(auth.userId, 'profile.updated', updated)
        return updated
      })
    } catch (err) {
      throw userConflict(err) ?? err
    }
    if (passwordHash !== undefined) await this.app.events.sessionsRevoked(auth.userId)
    return user
  }

  async search (callerId: string, prefix: string, limit: number): Promise<PublicUser[]> {
    return this.withPresence(await searchUsers(this.app.db, prefix, limit, callerId))
  }

  async getPublic (id: string): Promise<PublicUser> {
    const row = await findPublicUser(this.app.db, { id })
    if (row === undefined) fail('USER_NOT_FOUND')
    const [user] = await this.withPresence([row])
    return user!
  }

  /** Finds a user by id or by username (case-insensitive). */
  async find (where: { id: string } | { username: string }): Promise<PublicUserRow | undefined> {
    return findPublicUser(this.app.db, where)
  }

  /** Which of these ids are users (read through `db`, a transaction, when given). */
  async existing (ids: string[], db: Db = this.app.db): Promise<Set<string>> {
    return existingUserIds(db, ids)
  }

  async withPresence (rows: PublicUserRow[]): Promise<PublicUser[]> {
    const online = await this.app.events.presence.onlineAmong(rows.map((row) => row.id))
    return rows.map((row) => ({ id: row.id, username: row.username, avatarUrl: row.avatarUrl, online: online.has(row.id) }))
  }
}
