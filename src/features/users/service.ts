// Profiles: reading and changing your own (avatar included), finding others (with their live online status).
import type { Multipart } from '@fastify/multipart'
import type { FastifyBaseLogger } from 'fastify'
import type { Db } from '../../db/client.ts'
import { violatedUniqueConstraint } from '../../db/errors.ts'
import { AppError, fail } from '../../errors.ts'
import type { PasswordHasher } from '../../lib/passwords.ts'
import type { PublicUser, User } from '../../schemas/models.ts'
import type { BlocksService } from '../blocks/service.ts'
import type { Outbox } from '../events/outbox.ts'
import type { Presence } from '../events/presence.ts'
import type { FilesService } from '../files/service.ts'
import type { SessionsService } from '../sessions/service.ts'
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

export interface UsersDependencies {
  db: Db
  passwords: PasswordHasher
  outbox: Outbox
  presence: Presence
  sessions: SessionsService
  files: FilesService
  blocks: BlocksService
  log: FastifyBaseLogger
}

type Auth = { userId: string, sessionId: string }

export class UsersService {
  private readonly db: Db
  private readonly passwords: PasswordHasher
  private readonly outbox: Outbox
  private readonly presence: Presence
  private readonly sessions: SessionsService
  private readonly files: FilesService
  private readonly blocks: BlocksService
  private readonly log: FastifyBaseLogger

  constructor (deps: UsersDependencies) {
    ({ db: this.db, passwords: this.passwords, outbox: this.outbox, presence: this.presence, sessions: this.sessions, files: this.files, blocks: this.blocks, log: this.log } = deps)
  }

  async create (input: { username: string, email: string, password: string }): Promise<User> {
    const passwordHash = await this.passwords.hash(input.password)
    try {
      return await insertUser(this.db, { username: input.username, email: input.email, passwordHash })
    } catch (err) {
      throw userConflict(err) ?? err
    }
  }

  /** The user id when the password is right; the same time is spent when the user does not exist. */
  async checkPassword (username: string, password: string): Promise<string | undefined> {
    const credentials = await findCredentials(this.db, { username })
    const ok = await this.passwords.verify(credentials?.passwordHash, password)
    return ok ? credentials?.id : undefined
  }

  /** Whether `password` is the user's current one. */
  async verifyPassword (userId: string, password: string): Promise<boolean> {
    const credentials = await findCredentials(this.db, { id: userId })
    return this.passwords.verify(credentials?.passwordHash, password)
  }

  async me (userId: string): Promise<User> {
    return (await findUser(this.db, userId)) ?? fail('USER_NOT_FOUND')
  }

  /** PATCH /users/me: a stored avatar that the change leaves unreferenced goes (row and bytes). */
  async updateProfile (auth: Auth, changes: ProfileChanges): Promise<User> {
    if (changes.avatarUrl != null && !changes.avatarUrl.startsWith('/') && !URL.canParse(changes.avatarUrl)) fail('VALIDATION_ERROR', 'body/avatarUrl must be a valid http(s) URL')
    // A /files/{id} path holds an id: lower case, like every id the server returns.
    if (changes.avatarUrl?.startsWith('/files/') === true) changes = { ...changes, avatarUrl: changes.avatarUrl.toLowerCase() }
    const previous = changes.avatarUrl === undefined ? null : (await this.me(auth.userId)).avatarUrl
    const user = await this.update(auth, changes)
    await this.releaseAvatar(previous, user.avatarUrl)
    return user
  }

  /** Stores an image as the user's avatar and points avatarUrl at it; the previous stored avatar goes. */
  async setAvatar (auth: Auth, parts: AsyncIterable<Multipart>): Promise<User> {
    const previous = (await this.me(auth.userId)).avatarUrl
    const file = await this.files.store(auth.userId, 'avatar', await this.files.receive(parts, 'avatar', auth.userId))
    let user: User
    try {
      user = await this.update(auth, { avatarUrl: this.files.url(file.id) })
    } catch (err) {
      await this.files.release([file.id])
      throw err
    }
    await this.releaseAvatar(previous, user.avatarUrl)
    return user
  }

  /** Runs after the change committed: a failure here is logged, never turned into an error for a change that succeeded. */
  private async releaseAvatar (previous: string | null, current: string | null): Promise<void> {
    if (previous === null || previous === current) return
    const previousId = this.files.idOfUrl(previous)
    if (previousId === undefined) return
    try {
      await this.files.release([previousId])
    } catch (err) {
      this.log.error({ err, fileId: previousId }, 'could not remove the previous avatar')
    }
  }

  /**
   * Changing the password or the email needs the current password (the email is how an account is recovered);
   * a password change ends every other session of the user.
   */
  private async update (auth: Auth, changes: ProfileChanges): Promise<User> {
    const { password, currentPassword, ...profile } = changes
    const emailChanges = profile.email !== undefined && profile.email !== (await this.me(auth.userId)).email
    if (password !== undefined || emailChanges) {
      const credentials = await findCredentials(this.db, { id: auth.userId })
      const ok = currentPassword !== undefined && await this.passwords.verify(credentials?.passwordHash, currentPassword)
      if (!ok) fail('WRONG_PASSWORD')
    }
    const passwordHash = password === undefined ? undefined : await this.passwords.hash(password)
    let user: User
    try {
      user = await this.outbox.transaction(async (tx, emit) => {
        const updated = await updateUser(tx, auth.userId, passwordHash === undefined ? profile : { ...profile, passwordHash })
        if (updated === undefined) fail('USER_NOT_FOUND')
        if (passwordHash !== undefined) await this.sessions.revokeOthers(tx, auth.userId, auth.sessionId)
        emit(auth.userId, 'profile.updated', updated)
        return updated
      })
    } catch (err) {
      throw userConflict(err) ?? err
    }
    if (passwordHash !== undefined) await this.sessions.announceRevoked(auth.userId)
    return user
  }

  /** Username prefix search: never the caller, nor anyone who has blocked the caller. */
  async search (callerId: string, prefix: string, limit: number): Promise<PublicUser[]> {
    return this.withPresence(callerId, await searchUsers(this.db, prefix, limit, callerId))
  }

  async getPublic (viewerId: string, id: string): Promise<PublicUser> {
    const row = await findPublicUser(this.db, { id })
    if (row === undefined) fail('USER_NOT_FOUND')
    const [user] = await this.withPresence(viewerId, [row])
    return user!
  }

  /** Finds a user by id or by username (case-insensitive). */
  async find (where: { id: string } | { username: string }): Promise<PublicUserRow | undefined> {
    return findPublicUser(this.db, where)
  }

  /** Which of these ids are users (read through `db`, a transaction, when given). */
  async existing (ids: string[], db: Db = this.db): Promise<Set<string>> {
    return existingUserIds(db, ids)
  }

  /** Public profiles as `viewerId` sees them: online only when not blocked either way. */
  async withPresence (viewerId: string, rows: PublicUserRow[]): Promise<PublicUser[]> {
    const online = await this.onlineFor(viewerId, rows.map((row) => row.id))
    return rows.map((row) => ({ id: row.id, username: row.username, avatarUrl: row.avatarUrl, online: online.has(row.id) }))
  }

  /** Those of `ids` online as `viewerId` sees them: a user and a user they blocked (or who blocked them) show offline to each other. */
  async onlineFor (viewerId: string, ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const [online, blocked] = await Promise.all([this.presence.onlineAmong(ids), this.blocks.blockedEitherAmong(viewerId, ids)])
    for (const id of blocked) online.delete(id)
    return online
  }
}
