// Contacts table access: each user's personal address book.
import { and, asc, eq, inArray, sql } from 'drizzle-orm'
import { anyUuid } from '../../db/arrays.ts'
import type { Db } from '../../db/client.ts'
import { contacts, users } from '../../db/schema.ts'
import { MAX_LISTED } from '../../schemas/models.ts'

export interface ContactRow {
  contactId: string
  username: string
  avatarUrl: string | null
  addedAt: Date
}

export async function listContacts (db: Db, ownerId: string): Promise<ContactRow[]> {
  return db.select({ contactId: contacts.contactId, username: users.username, avatarUrl: users.avatarUrl, addedAt: contacts.addedAt })
    .from(contacts)
    .innerJoin(users, eq(users.id, contacts.contactId))
    .where(eq(contacts.ownerId, ownerId))
    .orderBy(asc(sql`lower(${users.username})`), asc(users.username))
    .limit(MAX_LISTED)
}

/** The time it was added, or undefined when it already was a contact. */
export async function insertContact (db: Db, ownerId: string, contactId: string): Promise<Date | undefined> {
  const [row] = await db.insert(contacts).values({ ownerId, contactId }).onConflictDoNothing().returning({ addedAt: contacts.addedAt })
  return row?.addedAt
}

export async function deleteContact (db: Db, ownerId: string, contactId: string): Promise<boolean> {
  const rows = await db.delete(contacts).where(and(eq(contacts.ownerId, ownerId), eq(contacts.contactId, contactId))).returning({ contactId: contacts.contactId })
  return rows.length > 0
}

/** True when either user has the other as a contact. */
export async function eitherHasTheOther (db: Db, a: string, b: string): Promise<boolean> {
  const rows = await db.select({ ownerId: contacts.ownerId }).from(contacts)
    .where(sql`(${contacts.ownerId} = ${a} and ${contacts.contactId} = ${b}) or (${contacts.ownerId} = ${b} and ${contacts.contactId} = ${a})`)
    .limit(1)
  return rows.length > 0
}

/** For each pair, whether either user has the other as a contact: one query for all pairs. */
export async function eitherHasTheOtherMany (db: Db, pairs: Array<[string, string]>): Promise<boolean[]> {
  const users = [...new Set(pairs.flat())]
  const rows = await db.select({ ownerId: contacts.ownerId, contactId: contacts.contactId }).from(contacts)
    .where(and(anyUuid(contacts.ownerId, users), anyUuid(contacts.contactId, users)))
  const linked = new Set(rows.map((row) => `${row.ownerId}/${row.contactId}`))
  return pairs.map(([a, b]) => linked.has(`${a}/${b}`) || linked.has(`${b}/${a}`))
}

/** Those of `owners` who have `contactId` as a contact. */
export async function ownersAmong (db: Db, contactId: string, owners: string[]): Promise<string[]> {
  const rows = await db.select({ ownerId: contacts.ownerId }).from(contacts)
    .where(and(eq(contacts.contactId, contactId), inArray(contacts.ownerId, owners)))
  return rows.map((row) => row.ownerId)
}
