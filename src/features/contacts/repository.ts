// Contacts table access: each user's personal address book.
import { and, asc, eq, not, type SQLWrapper, sql } from 'drizzle-orm'
import { anyUuid, arrayPlaceholder } from '../../db/arrays.ts'
import { BuiltStatement } from '../../db/built-statement.ts'
import type { Db } from '../../db/client.ts'
import { preparedQuery } from '../../db/prepared-query.ts'
import { blocks, contacts, users } from '../../db/schema.ts'
import { MAX_LISTED } from '../../schemas/models.ts'

export interface ContactRow {
  contactId: string
  username: string
  avatarUrl: string | null
  addedAt: Date
  /** Either has blocked the other: the contact shows offline. */
  blocked: boolean
}

/** A block between the two users, either way (the blocks table is the blocks feature's; its rule is one SQL condition). */
function blockBetween (a: SQLWrapper, b: SQLWrapper) {
  return sql`exists (select 1 from ${blocks} where (${blocks.blockerId} = ${a} and ${blocks.blockedId} = ${b}) or (${blocks.blockerId} = ${b} and ${blocks.blockedId} = ${a}))`
}

const contactList = preparedQuery((db) => db.select({ contactId: contacts.contactId, username: users.username, avatarUrl: users.avatarUrl, addedAt: contacts.addedAt, blocked: blockBetween(contacts.ownerId, contacts.contactId).mapWith(Boolean) })
  .from(contacts)
  .innerJoin(users, eq(users.id, contacts.contactId))
  .where(eq(contacts.ownerId, sql.placeholder('ownerId')))
  .orderBy(asc(sql`lower(${users.username})`), asc(users.username))
  .limit(MAX_LISTED)
  .prepare('contact_list'))

export async function listContacts (db: Db, ownerId: string): Promise<ContactRow[]> {
  return contactList(db).execute({ ownerId })
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

/** Whether two users may talk: 'ok', or the error code that says why not (a block wins over a missing contact). */
export type TalkVerdict = 'ok' | 'BLOCKED' | 'NOT_A_CONTACT'

/**
 * For each pair, whether either user has blocked the other, and else whether either has the other as a contact:
 * one query for all pairs (contacts and blocks among the users, in one statement), on the send path's hot loop.
 */
/** The contacts and blocks among some users: (a, b, block) rows, a having b as a contact or a blocking b. */
const linksAmong = new BuiltStatement<{ a: string, b: string, block: boolean }>(sql`
  select ${contacts.ownerId} as a, ${contacts.contactId} as b, false as block from ${contacts}
  where ${contacts.ownerId} = any(${arrayPlaceholder('users', 'uuid')}) and ${contacts.contactId} = any(${arrayPlaceholder('users', 'uuid')})
  union all
  select ${blocks.blockerId}, ${blocks.blockedId}, true from ${blocks}
  where ${blocks.blockerId} = any(${arrayPlaceholder('users', 'uuid')}) and ${blocks.blockedId} = any(${arrayPlaceholder('users', 'uuid')})`)

export async function talkVerdicts (db: Db, pairs: Array<[string, string]>): Promise<TalkVerdict[]> {
  const rows = await linksAmong.rows(db, { users: [...new Set(pairs.flat())] })
  const linked = new Set<string>()
  const blocked = new Set<string>()
  for (const row of rows) (row.block ? blocked : linked).add(`${row.a}/${row.b}`)
  return pairs.map(([a, b]) => {
    if (blocked.has(`${a}/${b}`) || blocked.has(`${b}/${a}`)) return 'BLOCKED'
    return linked.has(`${a}/${b}`) || linked.has(`${b}/${a}`) ? 'ok' : 'NOT_A_CONTACT'
  })
}

/** Every user who has `contactId` as a contact, leaving out any pair with a block either way. */
export async function ownersOf (db: Db, contactId: string): Promise<string[]> {
  const rows = await db.select({ ownerId: contacts.ownerId }).from(contacts)
    .where(and(eq(contacts.contactId, contactId), not(blockBetween(contacts.ownerId, contacts.contactId))))
  return rows.map((row) => row.ownerId)
}

/** Those of `owners` who have `contactId` as a contact, leaving out any pair with a block either way. */
export async function ownersAmong (db: Db, contactId: string, owners: string[]): Promise<string[]> {
  const rows = await db.select({ ownerId: contacts.ownerId }).from(contacts)
    .where(and(eq(contacts.contactId, contactId), anyUuid(contacts.ownerId, owners), not(blockBetween(contacts.ownerId, contacts.contactId))))
  return rows.map((row) => row.ownerId)
}
