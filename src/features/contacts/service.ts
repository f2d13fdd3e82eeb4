// Contacts: adding and removing people from your own list (it does not change theirs), with live presence.
import type { FastifyInstance } from 'fastify'
import type { Db } from '../../db/client.ts'
import { fail } from '../../errors.ts'
import type { Contact } from '../../schemas/models.ts'
import { UsersService } from '../users/service.ts'
import { deleteContact, eitherHasTheOther, eitherHasTheOtherMany, insertContact, listContacts, type ContactRow } from './repository.ts'

export class ContactsService {
  private readonly users: UsersService

  constructor (private readonly app: FastifyInstance) {
    this.users = new UsersService(app)
  }

  async list (ownerId: string): Promise<Contact[]> {
    const rows = await listContacts(this.app.db, ownerId)
    const online = await this.app.events.presence.onlineAmong(rows.map((row) => row.contactId))
    return rows.map((row) => toContact(row, online.has(row.contactId)))
  }

  async add (ownerId: string, target: { userId?: string, username?: string }): Promise<Contact> {
    if ((target.userId === undefined) === (target.username === undefined)) fail('VALIDATION_ERROR', 'body must have exactly one of userId and username')
    const user = await this.users.find(target.userId !== undefined ? { id: target.userId } : { username: target.username! })
    if (user === undefined) fail('USER_NOT_FOUND')
    if (user.id === ownerId) fail('CANNOT_ADD_SELF')
    const online = await this.app.events.presence.onlineAmong([user.id])
    return this.app.events.transaction(async (tx, emit) => {
      const addedAt = await insertContact(tx, ownerId, user.id)
      if (addedAt === undefined) fail('CONTACT_EXISTS')
      const contact = toContact({ contactId: user.id, username: user.username, avatarUrl: user.avatarUrl, addedAt }, online.has(user.id))
      emit(ownerId, 'contact.added', contact)
      return contact
    })
  }

  async remove (ownerId: string, contactId: string): Promise<void> {
    await this.app.events.transaction(async (tx, emit) => {
      if (!await deleteContact(tx, ownerId, contactId)) fail('CONTACT_NOT_FOUND')
      emit(ownerId, 'contact.removed', { contactId })
    })
  }

  /** The messaging policy: two users may talk when either has the other as a contact. */
  async mayTalk (a: string, b: string): Promise<boolean> {
    return eitherHasTheOther(this.app.db, a, b)
  }

  /** mayTalk for many pairs at once (read through `db`, a transaction, when given). */
  async mayTalkMany (pairs: Array<[string, string]>, db: Db = this.app.db): Promise<boolean[]> {
    return eitherHasTheOtherMany(db, pairs)
  }
}

function toContact (row: ContactRow, online: boolean): Contact {
  return { contactId: row.contactId, username: row.username, avatarUrl: row.avatarUrl, online, addedAt: row.addedAt.toISOString() }
}
