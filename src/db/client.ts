// Opens the database: embedded PGlite in DATA_DIR/db, or PostgreSQL through postgres.js when DATABASE_URL is set.
// The only module (with migrate.ts) that knows which driver is in use; everything else sees one Db type.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { pg_trgm as pgTrgm } from '@electric-sql/pglite/contrib/pg_trgm'
import type { SQL } from 'drizzle-orm'
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from 'drizzle-orm/pg-core'
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

/**
 * postgres.js options shared by every client of the server (the pool and the LISTEN connection). Tuned so that
 * an instance serves again at once when the database comes back: postgres.js waits `backoff(retries)` seconds
 * before reopening a connection whose last attempt failed, by default up to 20 s (3^retries / 100, capped);
 * here 50 ms doubling to at most 500 ms. A connection attempt that gets no answer fails after 5 s (default 30 s),
 * so requests waiting for it answer 503 rather than hang.
 */
export function postgresOptions (max: number): postgres.Options<Record<string, postgres.PostgresType>> {
  return {
    max,
    onnotice: () => {},
    backoff: (retries: number) => Math.min(0.05 * 2 ** Math.max(0, retries - 1), 0.5),
    connect_timeout: 5,
    // Tell the server who we are, so pg_stat_activity shows it (and tests can find our LISTEN connection).
    connection: { application_name: 'chat-server' }
  }
}

export async function openDatabase ({ databaseUrl, dataDir, poolSize = 10 }: OpenOptions): Promise<Database> {
  if (databaseUrl !== undefined) {
    const client = postgres(databaseUrl, postgresOptions(poolSize))
    const db = drizzlePostgres(client, { schema }) as unknown as Db
    // Bounded: with the database gone, queries still waiting are dropped after 2 s rather than holding the stop.
    return { kind: 'postgres', db, client, url: databaseUrl, close: () => client.end({ timeout: 2 }) }
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

const dialect = new PgDialect()

/**
 * As queryRows, but planned for its parameter values every time (an unnamed statement, never a prepared one). For
 * a query whose best plan depends on a value, such as a search pattern: after a few runs PostgreSQL may switch a
 * prepared statement to one generic plan, chosen without the pattern, and it can be a hundred times slower.
 */
export async function queryRowsPlannedEachTime<T> (db: Db, query: SQL): Promise<T[]> {
  const { sql: text, params } = dialect.sqlToQuery(query)
  const client = (db as unknown as { $client: postgres.Sql | PGlite }).$client
  if (client instanceof PGlite) return (await client.query<T>(text, params)).rows
  return await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: false }) as unknown as T[]
}
