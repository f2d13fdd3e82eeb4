// Users table access; rows are mapped to API shapes here, so a password hash never leaves this file
// except through findCredentials.
import { and, asc, eq, ne, not, sql } from 'drizzle-orm'
import { arrayPlaceholder } from '../../db/arrays.ts'
import { BuiltStatement } from '../../db/built-statement.ts'
import type { Db } from '../../db/client.ts'
import { preparedQuery } from '../../db/prepared-query.ts'
import { blocks, users } from '../../db/schema.ts'
import type { User } from '../../schemas/models.ts'

type UserRow = typeof users.$inferSelect

const userColumns = {
  id: users.id,
  username: users.username,
  email: users.email,
  avatarUrl: users.avatarUrl,
  createdAt: users.createdAt
}

export function toUser (row: Pick<UserRow, 'id' | 'username' | 'email' | 'avatarUrl' | 'createdAt'>): User {
  return { id: row.id, username: row.username, email: row.email, avatarUrl: row.avatarUrl, createdAt: row.createdAt.toISOString() }
}

export interface PublicUserRow {
  id: string
  username: string
  avatarUrl: string | null
}

export async function insertUser (db: Db, values: { username: string, email: string, passwordHash: string }): Promise<User> {
  const [row] = await db.insert(users).values(values).returning(userColumns)
  return toUser(row!)
}

const userById = preparedQuery((db) => db.select(userColumns).from(users).where(eq(users.id, sql.placeholder('id'))).prepare('user_by_id'))

export async function findUser (db: Db, id: string): Promise<User | undefined> {
  const [row] = await userById(db).execute({ id })
  return row && toUser(row)
}

export async function findCredentials (db: Db, where: { username: string } | { id: string }): Promise<{ id: string, passwordHash: string } | undefined> {
  const condition = 'id' in where ? eq(users.id, where.id) : sql`lower(${users.username}) = lower(${where.username})`
  const [row] = await db.select({ id: users.id, passwordHash: users.passwordHash }).from(users).where(condition)
  return row
}

const publicUserColumns = { id: users.id, username: users.username, avatarUrl: users.avatarUrl }
const publicUserById = preparedQuery((db) => db.select(publicUserColumns).from(users)
  .where(eq(users.id, sql.placeholder('id'))).prepare('public_user_by_id'))
const publicUserByUsername = preparedQuery((db) => db.select(publicUserColumns).from(users)
  .where(sql`lower(${users.username}) = lower(${sql.placeholder('username')})`).prepare('public_user_by_username'))

export async function findPublicUser (db: Db, where: { id: string } | { username: string }): Promise<PublicUserRow | undefined> {
  const [row] = 'id' in where ? await publicUserById(db).execute(where) : await publicUserByUsername(db).execute(where)
  return row
}

export async function updateUser (db: Db, id: string, changes: Partial<{ username: string, email: string, avatarUrl: string | null, passwordHash: string }>): Promise<User | undefined> {
  if (Object.keys(changes).length === 0) return findUser(db, id)
  const [row] = await db.update(users).set(changes).where(eq(users.id, id)).returning(userColumns)
  return row && toUser(row)
}

/**
 * Case-insensitive username prefix search (served by the text_pattern_ops index), for `callerId`: never the caller,
 * nor a user who has blocked the caller.
 */
export async function searchUsers (db: Db, prefix: string, limit: number, callerId: string): Promise<PublicUserRow[]> {
  const pattern = prefix.replace(/[\\%_]/g, (c) => '\\' + c) + '%'
  const blockedCaller = sql`exists (select 1 from ${blocks} where ${blocks.blockerId} = ${users.id} and ${blocks.blockedId} = ${callerId})`
  return db.select(publicUserColumns)
    .from(users)
    .where(and(sql`lower(${users.username}) like lower(${pattern})`, ne(users.id, callerId), not(blockedCaller)))
    .orderBy(asc(sql`lower(${users.username})`))
    .limit(limit)
}

/** Which of these ids are users. */
const existingAmong = new BuiltStatement<{ id: string }>(sql`select ${users.id} from ${users} where ${users.id} = any(${arrayPlaceholder('ids', 'uuid')})`)

export async function existingUserIds (db: Db, ids: string[]): Promise<Set<string>> {
  const rows = await existingAmong.rows(db, { ids: [...new Set(ids)] })
  return new Set(rows.map((row) => row.id))
}
