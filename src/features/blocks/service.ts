// Blocking: a user blocks another so that neither can reach the other (sends, reactions, typing, presence), and
// the blocker vanishes from the blocked user's search. The other features ask this service (or fold the same
// rule into their own queries, as the send path does) whether a pair is blocked.
import type { Db } from '../../db/client.ts'
import { fail } from '../../errors.ts'
import type { PublicUser } from '../../schemas/models.ts'
import type { Outbox } from '../events/outbox.ts'
import { blockedEitherAmong, deleteBlock, insertBlock, listBlocked, userExists } from './repository.ts'

export class BlocksService {
  constructor (
    private readonly db: Db,
    private readonly outbox: Outbox
  ) {}

  /** The users the caller has blocked; they show offline to the caller, like every blocked pair. */
  async list (blockerId: string): Promise<PublicUser[]> {
    const rows = await listBlocked(this.db, blockerId)
    return rows.map((row) => ({ id: row.id, username: row.username, avatarUrl: row.avatarUrl, online: false }))
  }

  /** Blocks a user (contact or not); blocking again changes nothing. `block.added` goes to the blocker only. */
  async block (blockerId: string, userId: string): Promise<void> {
    if (userId === blockerId) fail('CANNOT_BLOCK_SELF')
    await this.outbox.transaction(async (tx, emit) => {
      if (!await userExists(tx, userId)) fail('USER_NOT_FOUND')
      if (await insertBlock(tx, blockerId, userId)) emit(blockerId, 'block.added', { userId })
    })
  }

  /** Lifts a block; lifting one that is not there changes nothing. `block.removed` goes to the blocker only. */
  async unblock (blockerId: string, userId: string): Promise<void> {
    await this.outbox.transaction(async (tx, emit) => {
      if (await deleteBlock(tx, blockerId, userId)) emit(blockerId, 'block.removed', { userId })
    })
  }

  /** True while either user has blocked the other: sends, reactions and typing between them are 403 BLOCKED. */
  async isBlockedEither (a: string, b: string): Promise<boolean> {
    return (await blockedEitherAmong(this.db, a, [b])).has(b)
  }

  /** 403 BLOCKED when either of the two has blocked the other (read through `db`, a transaction, when given). */
  readonly refuseBlocked = async (a: string, b: string, db: Db = this.db): Promise<void> => {
    if ((await blockedEitherAmong(db, a, [b])).has(b)) fail('BLOCKED')
  }

  /** Those of `others` between whom and `userId` there is a block either way (each shows offline to the other). */
  async blockedEitherAmong (userId: string, others: string[], db: Db = this.db): Promise<Set<string>> {
    return blockedEitherAmong(db, userId, others)
  }
}
