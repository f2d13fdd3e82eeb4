// Deleting an account for good: everything of the user in one transaction (all or nothing), everyone who knew
// the user told with `user.deleted`, the user's streams closed on every instance, file bytes removed after commit.
import { fail } from '../../errors.ts'
import type { Outbox } from '../events/outbox.ts'
import type { FilesService } from '../files/service.ts'
import type { SessionsService } from '../sessions/service.ts'
import type { UsersService } from '../users/service.ts'
import { deleteMessagesOf, deleteUser, erasePeerEvents, lockUser, ownedFileIds, partiesOf } from './repository.ts'

export class AccountsService {
  constructor (
    private readonly outbox: Outbox,
    private readonly users: UsersService,
    private readonly sessions: SessionsService,
    private readonly files: FilesService
  ) {}

  /** DELETE /users/me: needs the password (403 WRONG_PASSWORD). */
  async delete (userId: string, password: string): Promise<void> {
    if (!await this.users.verifyPassword(userId, password)) fail('WRONG_PASSWORD')
    const fileIds = await this.outbox.transaction(async (tx, emit) => {
      // Held to the commit: a concurrent send to or from the user waits, then finds the user gone.
      if (!await lockUser(tx, userId)) fail('USER_NOT_FOUND')
      const parties = await partiesOf(tx, userId)
      const owned = await ownedFileIds(tx, userId)
      const carried = await deleteMessagesOf(tx, userId)
      await erasePeerEvents(tx, userId, parties)
      // The peers' files that only these messages carried go too; the user's own go with the row.
      const released = await this.files.removeUnreferenced(tx, carried)
      await deleteUser(tx, userId)
      for (const party of parties) emit(party, 'user.deleted', { userId })
      return [...new Set([...owned, ...released])]
    })
    // After the commit: the sessions are gone (every token is 401 now); close their streams everywhere. Bytes left
    // by a crash here belong to no row, and nothing can reach them.
    await this.sessions.announceRevoked(userId)
    await this.files.removeBytes(fileIds)
  }
}
