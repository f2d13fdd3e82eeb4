// Configuration from the environment (defaults from the contract, bad values named), the server's start-up
// refusals as a real process, and the embedded database's lock against a second process.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tap from 'tap'
import { ConfigError, loadConfig, OWASP_ARGON2 } from '../src/config.ts'
import { openDatabase } from '../src/db/client.ts'
import { LockedError } from '../src/lib/dir-lock.ts'

const root = new URL('..', import.meta.url).pathname

/** Runs the server entry (its TypeScript, through tsx), with only the given environment (plus PATH). */
function runServer (env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`server did not exit: ${stdout}${stderr}`)) }, timeoutMs)
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }) })
  })
}

tap.test('defaults match the contract\'s configuration table', async (t) => {
  const config = loadConfig({})
  t.match(config, {
    port: 3000,
    host: '127.0.0.1',
    databaseUrl: undefined,
    dataDir: './data',
    jwtSecret: undefined,
    maxUploadBytes: 26214400,
    tokenTtlSeconds: 2592000,
    sseHeartbeatMs: 15000,
    eventsRetentionDays: 7,
    rateLimitAuthPerMinute: 20,
    rateLimitPerMinute: 600,
    rateLimitSendsPerMinute: 120,
    trustProxy: false,
    sessionMaxAgeSeconds: 7776000,
    maxStreamsPerUser: 20,
    storageQuotaBytes: 1073741824,
    fileUrlTtlSeconds: 3600,
    busUrl: undefined,
    corsOrigins: [],
    logLevel: 'info'
  })
  t.same(config.argon2, OWASP_ARGON2)
  t.ok(config.argon2.memoryCost >= 19456 && config.argon2.timeCost >= 2 && config.argon2.parallelism >= 1, 'at least OWASP\'s argon2id parameters')
  t.equal(config.requestIdleTimeoutMs, 60_000, 'an idle timeout of 60 s')
  t.same(loadConfig({ PORT: '', LOG_LEVEL: '', DATA_DIR: '' }).port, 3000, 'empty values mean the default')
})

tap.test('values are read from the environment', async (t) => {
  const secret = 's'.repeat(32)
  const config = loadConfig({
    PORT: '8080',
    HOST: '0.0.0.0',
    DATABASE_URL: 'postgres://chat:pw@db.internal:5432/chat',
    DATA_DIR: '/var/lib/chat',
    JWT_SECRET: secret,
    MAX_UPLOAD_BYTES: '1048576',
    TOKEN_TTL_SECONDS: '3600',
    SSE_HEARTBEAT_MS: '5000',
    EVENTS_RETENTION_DAYS: '30',
    RATE_LIMIT_AUTH_PER_MINUTE: '5',
    RATE_LIMIT_PER_MINUTE: '100',
    RATE_LIMIT_SENDS_PER_MINUTE: '10',
    TRUST_PROXY: '10.0.0.0/8, 192.168.1.1, ::1, fd00::/8',
    SESSION_MAX_AGE_SECONDS: '86400',
    MAX_STREAMS_PER_USER: '3',
    STORAGE_QUOTA_BYTES: '1000000',
    FILE_URL_TTL_SECONDS: '60',
    BUS_URL: 'nats://nats.internal:4222',
    CORS_ORIGINS: 'https://a.example, https://b.example:8443',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production'
  })
  t.match(config, {
    port: 8080,
    host: '0.0.0.0',
    databaseUrl: 'postgres://chat:pw@db.internal:5432/chat',
    dataDir: '/var/lib/chat',
    jwtSecret: secret,
    maxUploadBytes: 1048576,
    tokenTtlSeconds: 3600,
    sseHeartbeatMs: 5000,
    eventsRetentionDays: 30,
    rateLimitAuthPerMinute: 5,
    rateLimitPerMinute: 100,
    rateLimitSendsPerMinute: 10,
    trustProxy: ['10.0.0.0/8', '192.168.1.1', '::1', 'fd00::/8'],
    sessionMaxAgeSeconds: 86400,
    maxStreamsPerUser: 3,
    storageQuotaBytes: 1000000,
    fileUrlTtlSeconds: 60,
    busUrl: 'nats://nats.internal:4222',
    corsOrigins: ['https://a.example', 'https://b.example:8443'],
    logLevel: 'warn'
  })
  t.equal(loadConfig({ DATABASE_URL: 'postgresql://localhost/chat' }).databaseUrl, 'postgresql://localhost/chat')
  t.equal(loadConfig({ PORT: '0' }).port, 0, 'port 0: any free port')
  t.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true)
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2, 'a hop count')
  t.equal(loadConfig({}).busUrl, undefined, 'no BUS_URL: the database\'s own bus')
  t.equal(loadConfig({ DATABASE_URL: 'postgres://db/chat', BUS_URL: 'nats://nats.internal:4222' }).busUrl, 'nats://nats.internal:4222')
  t.equal(loadConfig({}).faultKillAfterCommit, false, 'no test fault unless armed')
})

tap.test('bad values throw a ConfigError naming the variable', async (t) => {
  const cases: Array<[Record<string, string>, string]> = [
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ PORT: '-1' }, 'PORT'],
    [{ PORT: '80.5' }, 'PORT'],
    [{ PORT: '1e3' }, 'PORT'],
    [{ PORT: '3000abc' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'http://localhost:5432/chat' }, 'DATABASE_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ LOG_LEVEL: 'INFO ' }, 'LOG_LEVEL'],
    [{ NODE_ENV: 'production' }, 'JWT_SECRET'],
    [{ NODE_ENV: 'production', JWT_SECRET: '' }, 'JWT_SECRET'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ JWT_SECRET: 'x'.repeat(31) }, 'JWT_SECRET'],
    [{ MAX_UPLOAD_BYTES: '0' }, 'MAX_UPLOAD_BYTES'],
    [{ MAX_UPLOAD_BYTES: '25MB' }, 'MAX_UPLOAD_BYTES'],
    [{ TOKEN_TTL_SECONDS: 'forever' }, 'TOKEN_TTL_SECONDS'],
    [{ TOKEN_TTL_SECONDS: '0' }, 'TOKEN_TTL_SECONDS'],
    [{ SSE_HEARTBEAT_MS: '0' }, 'SSE_HEARTBEAT_MS'],
    [{ EVENTS_RETENTION_DAYS: '0' }, 'EVENTS_RETENTION_DAYS'],
    [{ RATE_LIMIT_AUTH_PER_MINUTE: '0' }, 'RATE_LIMIT_AUTH_PER_MINUTE'],
    [{ RATE_LIMIT_AUTH_PER_MINUTE: 'many' }, 'RATE_LIMIT_AUTH_PER_MINUTE'],
    [{ MAX_STREAMS_PER_USER: '0' }, 'MAX_STREAMS_PER_USER'],
    [{ STORAGE_QUOTA_BYTES: '1GiB' }, 'STORAGE_QUOTA_BYTES'],
    [{ FILE_URL_TTL_SECONDS: '0' }, 'FILE_URL_TTL_SECONDS'],
    [{ CORS_ORIGINS: 'not a url' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: 'https://a.example/path' }, 'CORS_ORIGINS'],
    [{ CORS_ORIGINS: '*' }, 'CORS_ORIGINS'],
    [{ RATE_LIMIT_PER_MINUTE: '0' }, 'RATE_LIMIT_PER_MINUTE'],
    [{ RATE_LIMIT_SENDS_PER_MINUTE: 'lots' }, 'RATE_LIMIT_SENDS_PER_MINUTE'],
    [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '0' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.0/33' }, 'TRUST_PROXY'],
    [{ TRUST_PROXY: '10.0.0.1, proxy.internal' }, 'TRUST_PROXY'],
    [{ SESSION_MAX_AGE_SECONDS: '0' }, 'SESSION_MAX_AGE_SECONDS'],
    [{ STORAGE_QUOTA_BYTES: '1GB' }, 'STORAGE_QUOTA_BYTES'],
    [{ FILE_URL_TTL_SECONDS: '-5' }, 'FILE_URL_TTL_SECONDS'],
    [{ BUS_URL: 'redis://x:6379' }, 'BUS_URL'],
    [{ BUS_URL: 'not a url' }, 'BUS_URL'],
    [{ DATABASE_URL: 'postgres://db/chat', BUS_URL: 'redis://localhost:6379' }, 'BUS_URL'],
    [{ DATABASE_URL: 'postgres://db/chat', BUS_URL: 'not a url' }, 'BUS_URL'],
    [{ BUS_URL: 'nats://localhost:4222' }, 'BUS_URL'],
    [{ CHAT_TEST_FAULT: 'explode' }, 'CHAT_TEST_FAULT'],
    [{ NODE_ENV: 'production', JWT_SECRET: 'x'.repeat(32), CHAT_TEST_FAULT: 'kill-after-commit' }, 'CHAT_TEST_FAULT']
  ]
  for (const [env, variable] of cases) {
    try {
      loadConfig(env)
      t.fail(`${JSON.stringify(env)} was accepted`)
    } catch (err) {
      t.ok(err instanceof ConfigError, `${JSON.stringify(env)}: ConfigError`)
      t.match((err as Error).message, variable, `${JSON.stringify(env)}: names ${variable}`)
    }
  }
})

tap.test('secrets in bad values are not echoed', async (t) => {
  t.throws(() => loadConfig({ DATABASE_URL: 'mysql://user:hunter2secret@x/db' }), ConfigError)
  try { loadConfig({ DATABASE_URL: 'mysql://user:hunter2secret@x/db' }) } catch (err) { t.notMatch((err as Error).message, /hunter2secret/) }
  try { loadConfig({ JWT_SECRET: 'tooshortsecret' }) } catch (err) { t.notMatch((err as Error).message, /tooshortsecret/) }
  try { loadConfig({ DATABASE_URL: 'postgres://db/chat', BUS_URL: 'redis://user:hunter2secret@x' }) } catch (err) { t.notMatch((err as Error).message, /hunter2secret/) }
})

tap.test('the server stops at start with a one-line message naming the bad variable', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-config-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const { code, stdout, stderr } = await runServer({ PORT: 'abc', DATA_DIR: dataDir })
  t.not(code, 0, 'exits non-zero')
  t.equal(stdout, '', 'nothing on stdout')
  const lines = stderr.trimEnd().split('\n')
  t.equal(lines.length, 1, `one line: ${JSON.stringify(stderr)}`)
  t.match(lines[0], /PORT/)
})

tap.test('the embedded database refuses a second opener of the same DATA_DIR', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-lock-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const first = await openDatabase({ databaseUrl: undefined, dataDir })
  let closed = false
  t.teardown(async () => { if (!closed) await first.close() })
  await t.rejects(openDatabase({ databaseUrl: undefined, dataDir }), LockedError, 'a second open in the same process is refused')
  try {
    await openDatabase({ databaseUrl: undefined, dataDir })
  } catch (err) {
    t.match((err as Error).message, String(process.pid), 'the message names the holder')
    t.match((err as Error).message, /DATABASE_URL/, 'and points to PostgreSQL for several instances')
  }
  const { code, stdout, stderr } = await runServer({ DATA_DIR: dataDir, PORT: '0', JWT_SECRET: 'x'.repeat(32), LOG_LEVEL: 'silent' })
  t.not(code, 0, 'a second process exits non-zero')
  t.notMatch(stdout, /listening/i)
  const lines = stderr.trimEnd().split('\n')
  t.equal(lines.length, 1, `one line: ${JSON.stringify(stderr)}`)
  t.match(lines[0], /held by process/)
  await first.close()
  closed = true
  const again = await openDatabase({ databaseUrl: undefined, dataDir })
  t.ok(again, 'once closed, the directory opens again')
  await again.close()
})

tap.test('a lock left by a dead process is taken over', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-lock-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const { acquireDirLock } = await import('../src/lib/dir-lock.ts')
  const { writeFileSync } = await import('node:fs')
  const lockPath = join(dataDir, 'db.lock')
  // A pid that is not alive: spawn a process and wait for it to exit.
  const dead = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['-e', ''])
    child.on('exit', () => resolve(child.pid!))
  })
  writeFileSync(lockPath, String(dead))
  const lock = acquireDirLock(lockPath)
  t.throws(() => acquireDirLock(lockPath), LockedError, 'now held by this process')
  lock.release()
  acquireDirLock(lockPath).release()
})
