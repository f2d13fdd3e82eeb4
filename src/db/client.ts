// Opens the database: embedded PGlite in DATA_DIR/db, or PostgreSQL through postgres.js when DATABASE_URL is set.
// The only module (with migrate.ts and the pglite-*.ts) that knows which driver is in use; everything else sees one Db type.
import { existsSync, mkdirSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { join } from 'node:path'
import type { PGlite } from '@electric-sql/pglite'
import { is, SQL } from 'drizzle-orm'
import { type PgDatabase, PgDialect, type PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { PostgresJsSession, PostgresJsTransaction } from 'drizzle-orm/postgres-js/session'
import postgres from 'postgres'
import { acquireDirLock } from '../lib/dir-lock.ts'
import { migrationsFolder } from './migrations-folder.ts'
import { type PgliteClient, type PgliteTransaction, PreparedStatements } from './pglite-statements.ts'
import { PgliteThread } from './pglite-thread.ts'
import * as schema from './schema.ts'

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>

export type Database =
  | { kind: 'pglite', db: Db, client: PreparedStatements, close: () => Promise<void> }
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

/**
 * A postgres.js client for a DATABASE_URL. Besides what postgres.js reads from a URL, it takes libpq's
 * `?host=/var/run/postgresql` (a directory, starting with `/`) for a Unix-domain socket: postgres.js itself takes the
 * socket's directory only as an option.
 */
export function connectPostgres (url: string, options: postgres.Options<Record<string, postgres.PostgresType>>): postgres.Sql {
  const parsed = new URL(url)
  const socketDirectory = parsed.searchParams.get('host')
  if (socketDirectory === null || !socketDirectory.startsWith('/')) return postgres(url, options)
  parsed.searchParams.delete('host')
  return postgres(parsed.toString(), { ...options, host: socketDirectory })
}

export async function openDatabase ({ databaseUrl, dataDir, poolSize = 10 }: OpenOptions): Promise<Database> {
  if (databaseUrl !== undefined) {
    const client = connectPostgres(databaseUrl, postgresOptions(poolSize))
    const db = drizzlePostgres(client, { schema }) as unknown as Db
    // Bounded: with the database gone, queries still waiting are dropped after 2 s rather than holding the stop.
    return { kind: 'postgres', db, client, url: databaseUrl, close: () => client.end({ timeout: 2 }) }
  }
  const dir = join(dataDir, 'db')
  mkdirSync(dir, { recursive: true })
  // PGlite does not lock its directory itself: two processes on one directory corrupt it.
  const lock = acquireDirLock(join(dataDir, 'db.lock'))
  try {
    // Extensions are compiled in but must be named at creation; message search needs pg_trgm. PostgreSQL's default
    // 128 MB of shared buffers sit in the process's own memory here (the operating system caches the files anyway):
    // 16 MB took a fresh server from 541 to 437 MiB RSS, and its peak under load from 661 to 538 MiB, at the same speed.
    if (!existsSync(join(dir, 'PG_VERSION'))) await createPgliteDatabase(dir)
    const thread = await PgliteThread.open({ dir, postgresqlconf: ['shared_buffers=16MB'] })
    let client: PreparedStatements
    try {
      client = await PreparedStatements.open(thread)
    } catch (err) {
      await thread.close()
      throw err
    }
    const db = drizzlePglite({ client: client as unknown as PGlite, schema }) as unknown as Db
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

/**
 * Creates a new embedded database and applies the migrations to it, in a child process. Creating and migrating
 * grow PGlite's WebAssembly memory by about 150 MiB that the process never gives back (in a worker thread too): done
 * in the server's own process, a new server sat at 465 MiB RSS instead of the 315 of one opened on an existing database.
 */
async function createPgliteDatabase (dir: string): Promise<void> {
  const script = `
    const w = JSON.parse(process.argv[1])
    ;(async () => {
      const [{ PGlite }, { pg_trgm }, { drizzle }, { migrate }] = await Promise.all([w.pglite, w.pgTrgm, w.drizzle, w.migrator].map((url) => import(url)))
      const pg = await PGlite.create(w.dir, { extensions: { pg_trgm } })
      await migrate(drizzle(pg), { migrationsFolder: w.migrationsFolder })
      await pg.close()
    })().catch((err) => { console.error(err); process.exit(1) })
  `
  const paths = {
    dir,
    migrationsFolder,
    pglite: import.meta.resolve('@electric-sql/pglite'),
    pgTrgm: import.meta.resolve('@electric-sql/pglite/contrib/pg_trgm'),
    drizzle: import.meta.resolve('drizzle-orm/pglite'),
    migrator: import.meta.resolve('drizzle-orm/pglite/migrator')
  }
  await promisify(execFile)(process.execPath, ['-e', script, JSON.stringify(paths)])
}

/** Runs raw SQL on either driver and answers its rows (postgres.js answers an array, PGlite `{ rows }`). */
export async function queryRows<T> (db: Db, query: SQL): Promise<T[]> {
  const result = await db.execute(query) as unknown
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[]
}

const dialect = new PgDialect()

/**
 * The driver's client under a drizzle database or transaction: a postgres.js pool or reserved connection;
 * PreparedStatements for a PGlite database, its transaction's client inside a transaction.
 */
function clientOf (db: Db): postgres.Sql | PgliteClient | PgliteTransaction {
  return (db as unknown as { session: { client: postgres.Sql | PgliteClient | PgliteTransaction } }).session.client
}

/**
 * As queryRows, but planned for its parameter values every time (an unnamed statement, never a prepared one). For
 * a query whose best plan depends on a value, such as a search pattern: after a few runs PostgreSQL may switch a
 * prepared statement to one generic plan, chosen without the pattern, and it can be a hundred times slower.
 */
export async function queryRowsPlannedEachTime<T> (db: Db, query: SQL): Promise<T[]> {
  const { sql: text, params } = dialect.sqlToQuery(query)
  const client = clientOf(db)
  if ('unsafe' in client) return await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: false }) as unknown as T[]
  return (await client.queryPlannedEachTime<T>(text, params)).rows
}

/** A statement's text and its parameters, as the driver takes them (see BuiltStatement). */
export interface BoundQuery {
  text: string
  params: unknown[]
}

/** Runs a bound statement on the driver under `db` (a transaction's too), as a prepared statement; rows as the driver parses them. */
export async function runBound<Row> (db: Db, { text, params }: BoundQuery): Promise<Row[]> {
  const client = clientOf(db)
  if ('unsafe' in client) return await client.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true }) as unknown as Row[]
  return (await client.query<Row>(text, params)).rows
}

/** What a transaction's work answers: its value, and the statements that go out with the COMMIT. */
export interface TransactionOutcome<T> {
  value: T
  /** Run last, in order; a failing one rolls the whole transaction back. */
  last: Array<SQL | BoundQuery>
}

export interface Committed<T> {
  value: T
  /** The rows each `last` statement answered, in order. */
  lastRows: unknown[][]
}

/**
 * Runs `work` in a transaction, then its `last` statements, then commits. On PostgreSQL this takes two round trips
 * fewer than drizzle's transaction: BEGIN goes out with the first statement of `work`, and the `last` statements
 * with the COMMIT (a round trip costs the client a socket write, a wake-up and a read: most of the CPU of a small
 * transaction). A `last` statement that fails makes PostgreSQL answer the COMMIT with a rollback, and its error is
 * thrown. On PGlite it is drizzle's transaction on PreparedStatements, which does the same: there a round trip is a
 * message to the database's thread and back.
 */
export async function transaction<T> (db: Db, work: (tx: Db) => Promise<TransactionOutcome<T>>): Promise<Committed<T>> {
  const client = clientOf(db)
  if (!('unsafe' in client)) {
    return await db.transaction(async (tx) => {
      const { value, last } = await work(tx as unknown as Db)
      const lastRows = await (clientOf(tx as unknown as Db) as PgliteTransaction).commitWith(last.map(toBound))
      return { value, lastRows }
    })
  }
  const connection = await client.reserve()
  try {
    const begin = connection.unsafe('begin')
    begin.catch(() => {}) // (also sends it now: its outcome is read below)
    let outcome: TransactionOutcome<T>
    try {
      outcome = await work(onConnection(db, connection))
      await begin
    } catch (err) {
      await connection.unsafe('rollback').catch(() => {})
      throw err
    }
    // postgres.js sends a connection's queries in the order they are created.
    const statements = outcome.last.map((statement) => {
      const { text, params } = toBound(statement)
      return connection.unsafe(text, params as postgres.ParameterOrJSON<never>[], { prepare: true })
    })
    const commit = connection.unsafe('commit')
    const settled = await Promise.allSettled([...statements, commit])
    const failed = settled.find((result) => result.status === 'rejected')
    if (failed !== undefined) {
      await connection.unsafe('rollback').catch(() => {})
      throw failed.reason
    }
    const results = settled.map((result) => (result as PromiseFulfilledResult<postgres.RowList<postgres.Row[]>>).value)
    const committed = results.pop()!
    if (committed.command !== 'COMMIT') throw new Error(`transaction ended with ${committed.command}, not COMMIT`)
    return { value: outcome.value, lastRows: results }
  } finally {
    connection.release()
  }
}

function toBound (statement: SQL | BoundQuery): BoundQuery {
  if (!is(statement, SQL)) return statement
  const { sql: text, params } = dialect.sqlToQuery(statement)
  return { text, params }
}

/** A drizzle database whose queries run on one reserved postgres.js connection (what drizzle's own transaction builds). */
function onConnection (db: Db, connection: postgres.ReservedSql): Db {
  // What drizzle's own transaction passes on: the database's dialect, schema and options (internal fields).
  type Args = ConstructorParameters<typeof PostgresJsSession>
  const { session } = db as unknown as { session: { dialect: Args[1], schema: Args[2], options: Args[3] } }
  // (No savepoints on it: the work of such a transaction does not nest transactions.)
  const reserved = new PostgresJsSession(connection as unknown as postgres.Sql, session.dialect, session.schema, session.options)
  return new PostgresJsTransaction(session.dialect, reserved as never, session.schema) as unknown as Db
}
