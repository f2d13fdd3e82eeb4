// Applies the SQL migrations in migrations/ (drizzle-kit output) to either driver.
import type { PGlite } from '@electric-sql/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { connectPostgres, type Database } from './client.ts'
import { migrationsFolder } from './migrations-folder.ts'

// Any constant: instances starting together take turns migrating.
const MIGRATION_LOCK = 7_114_392_001

export async function migrateDatabase (database: Database): Promise<void> {
  if (database.kind === 'pglite') {
    await migratePglite(drizzlePglite({ client: database.client as unknown as PGlite }), { migrationsFolder })
    return
  }
  // One connection of its own: the advisory lock is held by a session, and the migrator needs a full client.
  const connection = connectPostgres(database.url, { max: 1, onnotice: () => {} })
  try {
    await connection`select pg_advisory_lock(${MIGRATION_LOCK})`
    await migratePostgres(drizzlePostgres(connection), { migrationsFolder })
  } finally {
    await connection.end()
  }
}
