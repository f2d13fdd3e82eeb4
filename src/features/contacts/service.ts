// Contacts: adding and removing people from your own list (it does not change theirs), with live presence.
import type { Db } from '../../db/client.ts'
import { AppError, fail } from '../../errors.ts'
import type { Contact } from '../../schemas/models.ts'
import type { Outbox } from '../events/outbox.ts'
import type { Presence } from '../events/presence.ts'
import type { UsersService } from '../users/service.ts'
import { deleteContact, insertContact, listContacts, ownersAmong, ownersOf, type ContactRow, talkVerdicts, type TalkVerdict } from './repository.ts'

export type { TalkVerdict } from './repository.ts'

export class ContactsService {
  constructor (
    private readonly db: Db,
    private readonly outbox: Outbox,
    private readonly presence: Presence,
    private readonly users: UsersService
  ) {}

  async list (ownerId: string): Promise<Contact[]> {
    const rows = await listContacts(this.db, ownerId)
    const online = await this.presence.onlineAmong(rows.flatMap((row) => row.blocked ? [] : [row.contactId]))
    return rows.map((row) => toContact(row, online.has(row.contactId)))
  }

  async add (ownerId: string, target: { userId?: string, username?: string }): Promise<Contact> {
    if ((target.userId === undefined) === (target.username === undefined)) fail('VALIDATION_ERROR', 'body must have exactly one of userId and username')
    const user = await this.users.find(target.userId !== undefined ? { id: target.userId } : { username: target.username! })
    if (user === undefined) fail('USER_NOT_FOUND')
    if (user.id === ownerId) fail('CANNOT_ADD_SELF')
    const online = await this.users.onlineFor(ownerId, [user.id])
    return this.outbox.transaction(async (tx, emit) => {
      const addedAt = await insertContact(tx, ownerId, user.id)
      if (addedAt === undefined) fail('CONTACT_EXISTS')
      const contact = toContact({ contactId: user.id, username: user.username, avatarUrl: user.avatarUrl, addedAt }, online.has(user.id))
      emit(ownerId, 'contact.added', contact)
      return contact
    })
  }

  async remove (ownerId: string, contactId: string): Promise<void> {
    await this.outbox.transaction(async (tx, emit) => {
      if (!await deleteContact(tx, ownerId, contactId)) fail('CONTACT_NOT_FOUND')
      emit(ownerId, 'contact.removed', { contactId })
    })
  }

  /** Every user told of `userId`'s presence (a bus that routes presence to each watcher needs them all), leaving out blocked pairs. */
  readonly watchersOf = async (userId: string): Promise<string[]> => ownersOf(this.db, userId)

  /** Which of `candidates` have `userId` as a contact (they watch its presence), leaving out blocked pairs. */
  readonly watchersAmong = async (userId: string, candidates: string[]): Promise<string[]> => ownersAmong(this.db, userId, candidates)

  /** The messaging policy: two users may talk when either has the other as a contact and neither has blocked the other. */
  async mayTalk (a: string, b: string): Promise<boolean> {
    return (await this.verdict(a, b)) === 'ok'
  }

  /** The messaging policy with its reason: 403 BLOCKED (which wins) or 403 NOT_A_CONTACT when the two may not talk. */
  async checkMayTalk (a: string, b: string): Promise<void> {
    const verdict = await this.verdict(a, b)
    if (verdict !== 'ok') throw new AppError(verdict)
  }

  private async verdict (a: string, b: string): Promise<TalkVerdict> {
    const [verdict] = await talkVerdicts(this.db, [[a, b]])
    return verdict!
  }

  /** The policy for many pairs at once, in one query (read through `db`, a transaction, when given). */
  async mayTalkMany (pairs: Array<[string, string]>, db: Db = this.db): Promise<TalkVerdict[]> {
    return talkVerdicts(db, pairs)
  }
}

function toContact (row: Omit<ContactRow, 'blocked'>, online: boolean): Contact {
  return { contactId: row.contactId, username: row.username, avatarUrl: row.avatarUrl, online, addedAt: row.addedAt.toISOString() }
}
