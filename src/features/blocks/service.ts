// Blocking: a user blocks another so that neither can reach the other (sends, reactions, typing, presence), and
// the blocker vanishes from the blocked user's search. The other features ask this service (or fold the same
// rule into their own queries, as the send path does) whether a pair is blocked.
import type { FastifyBaseLogger } from 'fastify'
import type { Bus } from '../../bus/index.ts'
import type { Db } from '../../db/client.ts'
import { logLevel } from '../../db/errors.ts'
import { fail } from '../../errors.ts'
import type { PublicUser } from '../../schemas/models.ts'
import type { Outbox } from '../events/outbox.ts'
import type { Presence } from '../events/presence.ts'
import { blockedEitherAmong, contactOwnersBetween, deleteBlock, insertBlock, listBlocked, userExists } from './repository.ts'

export interface BlocksDeps {
  db: Db
  outbox: Outbox
  presence: Presence
  bus: Bus
  log: FastifyBaseLogger
}

export class BlocksService {
  private readonly db: Db
  private readonly outbox: Outbox
  private readonly presence: Presence
  private readonly bus: Bus
  private readonly log: FastifyBaseLogger

  constructor ({ db, outbox, presence, bus, log }: BlocksDeps) {
    this.db = db
    this.outbox = outbox
    this.presence = presence
    this.bus = bus
    this.log = log
  }

  /** The users the caller has blocked; they show offline to the caller, like every blocked pair. */
  async list (blockerId: string): Promise<PublicUser[]> {
    const rows = await listBlocked(this.db, blockerId)
    return rows.map((row) => ({ id: row.id, username: row.username, avatarUrl: row.avatarUrl, online: false }))
  }

  /** Blocks a user (contact or not); blocking again changes nothing. `block.added` goes to the blocker only. */
  async block (blockerId: string, userId: string): Promise<void> {
    if (userId === blockerId) fail('CANNOT_BLOCK_SELF')
    const added = await this.outbox.transaction(async (tx, emit) => {
      if (!await userExists(tx, userId)) fail('USER_NOT_FOUND')
      if (!await insertBlock(tx, blockerId, userId)) return false
      emit(blockerId, 'block.added', { userId })
      return true
    })
    if (added) await this.announcePresence(blockerId, userId)
  }

  /** Lifts a block; lifting one that is not there changes nothing. `block.removed` goes to the blocker only. */
  async unblock (blockerId: string, userId: string): Promise<void> {
    const lifted = await this.outbox.transaction(async (tx, emit) => {
      if (!await deleteBlock(tx, blockerId, userId)) return false
      emit(blockerId, 'block.removed', { userId })
      return true
    })
    if (lifted) await this.announcePresence(blockerId, userId)
  }

  /**
   * A block hides each user's presence from the other: when one starts, each of the two who has the other as a
   * contact sees the other go offline; when the last block between them is lifted, the other's real state. Sent
   * like any presence change (a `presence` event), never failing the request that changed the block.
   */
  private async announcePresence (a: string, b: string): Promise<void> {
    try {
      const watching = await contactOwnersBetween(this.db, a, b)
      if (watching.length === 0) return
      const online = await this.isBlockedEither(a, b) ? new Set<string>() : await this.presence.onlineAmong([a, b])
      for (const watcher of watching) {
        const watched = watcher === a ? b : a
        await this.bus.publish({ t: 'p', u: watched, o: online.has(watched), w: watcher })
      }
    } catch (err) {
      this.log[logLevel(err)]({ err }, 'could not announce presence after a block change')
    }
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
