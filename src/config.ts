// The configuration: read from the environment once, checked, then passed around. Nothing else reads process.env.
import { isIP } from 'node:net'

export interface Argon2Params {
  memoryCost: number // KiB
  timeCost: number
  parallelism: number
}

export interface Config {
  port: number
  host: string
  /** A postgres:// URL, or undefined for embedded PGlite in `${dataDir}/db`. */
  databaseUrl: string | undefined
  dataDir: string
  /** A nats:// URL: the event bus between instances is NATS; undefined: PostgreSQL LISTEN/NOTIFY. */
  busUrl: string | undefined
  /** undefined: generated once into DATA_DIR (see resolveJwtSecret). */
  jwtSecret: string | undefined
  maxUploadBytes: number
  tokenTtlSeconds: number
  sseHeartbeatMs: number
  eventsRetentionDays: number
  rateLimitAuthPerMinute: number
  /** Requests per user per minute on authenticated endpoints. */
  rateLimitPerMinute: number
  /** Messages, uploads, reactions and typing per user per minute. */
  rateLimitSendsPerMinute: number
  /** Fastify's trustProxy: false (the socket address is the client), true, a hop count, or trusted addresses/CIDRs. */
  trustProxy: boolean | number | string[]
  /** A session's longest life from its login, however often it is renewed. */
  sessionMaxAgeSeconds: number
  maxStreamsPerUser: number
  storageQuotaBytes: number
  fileUrlTtlSeconds: number
  corsOrigins: string[]
  logLevel: string
  // Not in the environment: tuned by tests and benchmarks only.
  argon2: Argon2Params
  /** How long a stream may stay unable to write (client not reading) before it is closed. */
  sseStallTimeoutMs: number
  /** SSE `retry:` hint sent to clients. */
  sseRetryMs: number
  /** How often an instance renews its presence; presence of an instance silent for 3 periods expires. */
  presenceRenewMs: number
  /** How often old events, and revoked or expired sessions, are pruned. */
  pruneIntervalMs: number
  /** How often each instance checks the sessions of its open streams, ending those whose session expired. */
  streamSessionCheckMs: number
  /**
   * A connection that neither sends nor receives a byte for this long is closed (REQUEST_IDLE_TIMEOUT_SECONDS): a
   * slow upload that keeps moving is never cut, a stalled one is. Event streams are exempt (heartbeats keep them busy).
   */
  requestIdleTimeoutMs: number
  /** GET /health answers 503 when the database has not answered within this time. */
  healthTimeoutMs: number
  /** With a bus that notifies after commit (NATS): how often each instance re-reads where its streams' users' event ids stand. */
  busSweepMs: number
  /** Test fault (CHAT_TEST_FAULT=kill-after-commit, refused in production): die right after a commit, before its notice. */
  faultKillAfterCommit: boolean
  /** Where log lines go (default stdout); tests capture them to check nothing secret is logged. */
  logStream?: { write: (line: string) => void }
}

/** OWASP's minimum for argon2id: 19 MiB, 2 iterations, parallelism 1. */
export const OWASP_ARGON2: Argon2Params = { memoryCost: 19456, timeCost: 2, parallelism: 1 }

export class ConfigError extends Error {
  override name = 'ConfigError'
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

function integer (env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`)
  const value = Number(raw.trim())
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`)
  return value
}

function databaseUrl (raw: string | undefined): string | undefined {
  if (raw === undefined || raw === '') return undefined
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new ConfigError('DATABASE_URL must be a postgres:// URL')
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError(`DATABASE_URL must be a postgres:// URL, got protocol "${url.protocol}"`)
  }
  return raw
}

function busUrl (raw: string | undefined, database: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === '') return undefined
  let url: URL
  try {
    url = new URL(raw.trim())
  } catch {
    throw new ConfigError('BUS_URL must be a nats:// URL')
  }
  if (url.protocol !== 'nats:') throw new ConfigError(`BUS_URL must be a nats:// URL, got protocol "${url.protocol}"`)
  if (database === undefined) throw new ConfigError('BUS_URL needs DATABASE_URL: the embedded database serves one instance, which needs no bus')
  return raw.trim()
}

function testFault (raw: string | undefined, production: boolean): boolean {
  if (raw === undefined || raw === '') return false
  if (raw !== 'kill-after-commit') throw new ConfigError(`CHAT_TEST_FAULT must be kill-after-commit, got "${raw}"`)
  if (production) throw new ConfigError('CHAT_TEST_FAULT is for tests only: refused when NODE_ENV=production')
  return true
}

function corsOrigins (raw: string | undefined): string[] {
  if (raw === undefined || raw.trim() === '') return []
  return raw.split(',').map((origin) => origin.trim()).filter(Boolean).map((origin) => {
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      throw new ConfigError(`CORS_ORIGINS has an invalid origin "${origin}"`)
    }
    if (url.origin !== origin.replace(/\/$/, '')) throw new ConfigError(`CORS_ORIGINS entries must be bare origins like https://chat.example.com, got "${origin}"`)
    return url.origin
  })
}

function trustProxy (raw: string | undefined): boolean | number | string[] {
  const value = raw?.trim() ?? ''
  if (value === '' || value === 'false') return false
  if (value === 'true') return true
  if (/^\d+$/.test(value)) {
    const hops = Number(value)
    if (hops < 1 || hops > 100) throw new ConfigError(`TRUST_PROXY hop count must be between 1 and 100, got ${hops}`)
    return hops
  }
  return value.split(',').map((entry) => entry.trim()).filter(Boolean).map((entry) => {
    const [address, prefix, ...rest] = entry.split('/')
    const version = isIP(address ?? '')
    const bits = version === 6 ? 128 : 32
    if (version === 0 || rest.length > 0 || (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > bits))) {
      throw new ConfigError(`TRUST_PROXY must be true, false, a hop count, or comma-separated addresses/CIDRs, got "${entry}"`)
    }
    return entry
  })
}

export function loadConfig (env: Record<string, string | undefined>): Config {
  const host = env.HOST?.trim() || '127.0.0.1'
  const logLevel = env.LOG_LEVEL?.trim() || 'info'
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`)
  const jwtSecret = env.JWT_SECRET === '' ? undefined : env.JWT_SECRET
  if (jwtSecret !== undefined && jwtSecret.length < 32) throw new ConfigError('JWT_SECRET must be at least 32 characters')
  if (jwtSecret === undefined && env.NODE_ENV === 'production') throw new ConfigError('JWT_SECRET must be set when NODE_ENV=production')
  const database = databaseUrl(env.DATABASE_URL)
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host,
    databaseUrl: database,
    dataDir: env.DATA_DIR?.trim() || './data',
    busUrl: busUrl(env.BUS_URL, database),
    jwtSecret,
    maxUploadBytes: integer(env, 'MAX_UPLOAD_BYTES', 26214400, 1, 2 ** 40),
    tokenTtlSeconds: integer(env, 'TOKEN_TTL_SECONDS', 2592000, 60, 10 * 365 * 86400),
    sseHeartbeatMs: integer(env, 'SSE_HEARTBEAT_MS', 15000, 100, 3600000),
    eventsRetentionDays: integer(env, 'EVENTS_RETENTION_DAYS', 7, 1, 3650),
    rateLimitAuthPerMinute: integer(env, 'RATE_LIMIT_AUTH_PER_MINUTE', 20, 1, 1000000),
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 600, 1, 10000000),
    rateLimitSendsPerMinute: integer(env, 'RATE_LIMIT_SENDS_PER_MINUTE', 120, 1, 10000000),
    trustProxy: trustProxy(env.TRUST_PROXY),
    sessionMaxAgeSeconds: integer(env, 'SESSION_MAX_AGE_SECONDS', 7776000, 60, 10 * 365 * 86400),
    maxStreamsPerUser: integer(env, 'MAX_STREAMS_PER_USER', 20, 1, 100000),
    storageQuotaBytes: integer(env, 'STORAGE_QUOTA_BYTES', 1073741824, 1, 2 ** 50),
    fileUrlTtlSeconds: integer(env, 'FILE_URL_TTL_SECONDS', 3600, 1, 7 * 86400),
    requestIdleTimeoutMs: integer(env, 'REQUEST_IDLE_TIMEOUT_SECONDS', 60, 1, 3600) * 1000,
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    logLevel,
    argon2: OWASP_ARGON2,
    sseStallTimeoutMs: 30000,
    sseRetryMs: 3000,
    presenceRenewMs: 5000,
    pruneIntervalMs: 3600000,
    streamSessionCheckMs: 5000,
    healthTimeoutMs: 5000,
    busSweepMs: 1000,
    faultKillAfterCommit: testFault(env.CHAT_TEST_FAULT, env.NODE_ENV === 'production')
  }
}
