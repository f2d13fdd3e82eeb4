// Opens the database: embedded PGlite in DATA_DIR/db, or PostgreSQL through postgres.js when DATABASE_URL is set.
// The only module (with migrate.ts) that knows which driver is in use; everything else sees one Db type.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { pg_trgm as pgTrgm } from '@electric-sql/pglite/contrib/pg_trgm'
import type { SQL } from 'drizzle-orm'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import { acquireDirLock } from '../lib/dir-lock.ts'
import * as schema from './schema.ts'

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>

export type Database =
  | { kind: 'pglite', db: Db, client: PGlite, close: () => Promise<void> }
  | { kind: 'postgres', db: Db, client: postgres.Sql, url: string, close: () => Promise<void> }

export interface OpenOptions {
  databaseUrl: string | undefined
  dataDir: string
  /** Connection pool size for PostgreSQL. */
  poolSize?: number
}

export async function openDatabase ({ databaseUrl, dataDir, poolSize = 10 }: OpenOptions): Promise<Database> {
  if (databaseUrl !== undefined) {
    const client = postgres(databaseUrl, {
      max: poolSize,
      onnotice: () => {},
      // Tell the server who we are, so pg_stat_activity shows it (and tests can find our LISTEN connection).
      connection: { application_name: 'chat-server' }
    })
    const db = drizzlePostgres(client, { schema }) as unknown as Db
    return { kind: 'postgres', db, client, url: databaseUrl, close: () => client.end({ timeout: 5 }) }
  }
  const dir = join(dataDir, 'db')
  mkdirSync(dir, { recursive: true })
  // PGlite does not lock its directory itself: two processes on one directory corrupt it.
  const lock = acquireDirLock(join(dataDir, 'db.lock'))
  try {
    // Extensions are compiled in but must be named at creation; message search needs pg_trgm.
    const client = await PGlite.create(dir, { extensions: { pg_trgm: pgTrgm } })
    const db = drizzlePglite(client, { schema }) as unknown as Db
    return {
      kind: 'pglite',
      db,
      client,
      close: async () => {
        try {
          await client.close()
        } finally {
          lock.release()
        }
      }
    }
  } catch (err) {
    lock.release()
    throw err
  }
}

/** Runs raw SQL on either driver and answers its rows (postgres.js answers an array, PGlite `{ rows }`). */
export async function queryRows<T> (db: Db, query: SQL): Promise<T[]> {
  const result = await db.execute(query) as unknown
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[]
}
