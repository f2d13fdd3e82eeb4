// Builds real apps for tests: a fresh database per test file (a PGlite directory, or a new PostgreSQL
// database when DATABASE_URL is set), cheap argon2 settings, and a listening server with a typed client.
import { createHash, randomBytes } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../../src/app.ts'
import { type Config, loadConfig } from '../../src/config.ts'
import { connectPostgres, type Database, openDatabase } from '../../src/db/client.ts'
import { migrateDatabase } from '../../src/db/migrate.ts'
import type { App } from '../../src/types.ts'

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-0123456789'

interface Teardown {
  teardown: (fn: () => unknown) => void
}

export const usingPostgres = process.env.DATABASE_URL !== undefined && process.env.DATABASE_URL !== ''
/** BUS_URL=nats://...: apps on PostgreSQL use NATS as their bus (the multi-instance tests run on both buses). */
export const testBusUrl = usingPostgres && process.env.BUS_URL !== undefined && process.env.BUS_URL !== '' ? process.env.BUS_URL : undefined

/** A database of its own for one test file: a new PostgreSQL database (dropped at the end), or undefined for PGlite. */
export async function createTestDatabase (t: Teardown): Promise<string | undefined> {
  if (!usingPostgres) return undefined
  const base = new URL(process.env.DATABASE_URL!)
  const name = `chat_test_${randomBytes(6).toString('hex')}`
  const admin = connectPostgres(base.toString(), { max: 1, onnotice: () => {} })
  await admin.unsafe(`create database ${name}`)
  await admin.end()
  t.teardown(async () => {
    const cleanup = connectPostgres(base.toString(), { max: 1, onnotice: () => {} })
    await cleanup.unsafe(`drop database if exists ${name} with (force)`)
    await cleanup.end()
  })
  const url = new URL(base)
  url.pathname = `/${name}`
  return url.toString()
}

const migrationsDir = new URL('../../migrations/', import.meta.url)

/**
 * A migrated PGlite data directory, made once per set of migrations and copied for each app: creating
 * a PGlite cluster costs seconds, copying a closed one milliseconds.
 */
async function pgliteTemplate (): Promise<string> {
  const hash = createHash('sha256')
  for (const name of readdirSync(migrationsDir).filter((file) => file.endsWith('.sql')).sort()) hash.update(name).update(readFileSync(new URL(name, migrationsDir)))
  const template = join(tmpdir(), `chat-pglite-template-${hash.digest('hex').slice(0, 16)}`)
  const lock = `${template}.lock`
  for (;;) {
    if (existsSync(join(template, 'db'))) return join(template, 'db')
    try {
      mkdirSync(lock)
      break
    } catch {
      await sleep(200) // another test file is making it
    }
  }
  try {
    if (existsSync(join(template, 'db'))) return join(template, 'db')
    const building = mkdtempSync(`${template}.building-`)
    const database = await openDatabase({ databaseUrl: undefined, dataDir: building })
    await migrateDatabase(database)
    await database.close()
    renameSync(building, template)
    return join(template, 'db')
  } finally {
    rmSync(lock, { recursive: true, force: true })
  }
}

/** A migrated database of its own, without an app, for testing a piece that needs only the database. */
export async function openTestDatabase (t: Teardown): Promise<Database> {
  const databaseUrl = await createTestDatabase(t)
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-test-db-'))
  if (databaseUrl === undefined) cpSync(await pgliteTemplate(), join(dataDir, 'db'), { recursive: true })
  const database = await openDatabase({ databaseUrl, dataDir })
  t.teardown(async () => {
    await database.close()
    rmSync(dataDir, { recursive: true, force: true })
  })
  if (databaseUrl !== undefined) await migrateDatabase(database)
  return database
}

export function testConfig (overrides: Partial<Config> = {}): Config {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-test-'))
  return {
    ...loadConfig({ LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent' }),
    dataDir,
    jwtSecret: TEST_JWT_SECRET,
    // Cheap hashing for tests only; production uses OWASP's parameters (config.ts).
    argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
    // Tests register many users from one address; the rate limit has its own test (test/errors.test.ts).
    rateLimitAuthPerMinute: 100_000,
    // Likewise the per-user budgets and stream cap: test/limits.test.ts sets them low where it tests them.
    rateLimitPerMinute: 1_000_000,
    rateLimitSendsPerMinute: 1_000_000,
    maxStreamsPerUser: 10_000,
    ...overrides
  }
}

export interface TestApp {
  app: App
  config: Config
  /** http://127.0.0.1:<port> of the listening server. */
  baseUrl: string
}

/** The skip reason of a test that needs several instances: PGlite serves one process. */
export const severalInstancesSkip = usingPostgres ? false : 'several instances need PostgreSQL (PGlite serves one process): set DATABASE_URL'

/** Two instances on one new PostgreSQL database; call only when usingPostgres. */
export async function startTwoInstances (t: Teardown): Promise<[TestApp, TestApp]> {
  const databaseUrl = await createTestDatabase(t)
  const a = await startApp(t, { databaseUrl })
  return [a, await startApp(t, { databaseUrl })]
}

/**
 * Builds and starts an app. Pass `databaseUrl` (from createTestDatabase) to share one PostgreSQL database
 * between several instances; without it each app gets its own database.
 */
export async function startApp (t: Teardown, overrides: Partial<Config> = {}): Promise<TestApp> {
  const databaseUrl = 'databaseUrl' in overrides ? overrides.databaseUrl : await createTestDatabase(t)
  const busUrl = 'busUrl' in overrides ? overrides.busUrl : databaseUrl === undefined ? undefined : testBusUrl
  const config = testConfig({ ...overrides, databaseUrl, busUrl })
  if (databaseUrl === undefined) cpSync(await pgliteTemplate(), join(config.dataDir, 'db'), { recursive: true })
  const app = await buildApp(config)
  let closed = false
  const close = async () => {
    if (closed) return
    closed = true
    await app.close()
    rmSync(config.dataDir, { recursive: true, force: true })
  }
  t.teardown(close)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no address')
  return { app, config, baseUrl: `http://127.0.0.1:${address.port}` }
}
