// The benchmark's own PostgreSQL database: created fresh for each run, migrated, and dropped at the end, so a
// run never touches other data. Databases left by runs that were killed are dropped by the next run.
import { randomBytes } from 'node:crypto'
import { connectPostgres, type Database } from '../../../src/db/client.ts'
import { migrateDatabase } from '../../../src/db/migrate.ts'

const PREFIX = 'chat_bench_'

function withDatabase (url: string, name: string): string {
  const next = new URL(url)
  next.pathname = `/${name}`
  return next.toString()
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export interface BenchDatabase {
  name: string
  url: string
  drop: () => Promise<void>
}

export async function createBenchDatabase (adminUrl: string): Promise<BenchDatabase> {
  const admin = connectPostgres(adminUrl, { max: 1, onnotice: () => {} })
  const name = `${PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`
  try {
    // Leftovers of killed runs: the name carries the runner's pid.
    const rows = await admin<Array<{ datname: string }>>`select datname from pg_database where datname like ${`${PREFIX}%`}`
    for (const { datname } of rows) {
      const pid = Number(datname.slice(PREFIX.length).split('_')[0])
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !alive(pid)) {
        process.stderr.write(`dropping database ${datname} left by an earlier run (pid ${pid} is gone)\n`)
        await admin.unsafe(`drop database if exists "${datname}" with (force)`)
      }
    }
    await admin.unsafe(`create database "${name}"`)
  } finally {
    await admin.end({ timeout: 5 })
  }
  const url = withDatabase(adminUrl, name)
  let dropped = false
  return {
    name,
    url,
    drop: async () => {
      if (dropped) return
      dropped = true
      const cleanup = connectPostgres(adminUrl, { max: 1, onnotice: () => {} })
      try {
        await cleanup.unsafe(`drop database if exists "${name}" with (force)`)
      } finally {
        await cleanup.end({ timeout: 5 })
      }
    }
  }
}

/** Applies the server's migrations (the same code the server runs at start). */
export async function migrate (url: string): Promise<void> {
  await migrateDatabase({ kind: 'postgres', url } as Database)
}

/** `select version()` of the server behind the URL. */
export async function postgresVersion (url: string): Promise<string> {
  const sql = connectPostgres(url, { max: 1, onnotice: () => {} })
  try {
    const [row] = await sql<Array<{ version: string }>>`select version()`
    return row!.version
  } finally {
    await sql.end({ timeout: 5 })
  }
}
