// The configuration: read from the environment once, checked, then passed around. Nothing else reads process.env.

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
  /** undefined: generated once into DATA_DIR (see resolveJwtSecret). */
  jwtSecret: string | undefined
  maxUploadBytes: number
  tokenTtlSeconds: number
  sseHeartbeatMs: number
  eventsRetentionDays: number
  rateLimitAuthPerMinute: number
  corsOrigins: string[]
  /** How long a signed downloadUrl/thumbnailUrl works after it is handed out. */
  fileUrlTtlSeconds: number
  logLevel: string
  // Not in the environment: tuned by tests and benchmarks only.
  argon2: Argon2Params
  /** How long a stream may stay unable to write (client not reading) before it is closed. */
  sseStallTimeoutMs: number
  /** SSE `retry:` hint sent to clients. */
  sseRetryMs: number
  /** How often an instance renews its presence; presence of an instance silent for 3 periods expires. */
  presenceRenewMs: number
  /** How often old events are pruned. */
  pruneIntervalMs: number
  requestTimeoutMs: number
  /** GET /health answers 503 when the database has not answered within this time. */
  healthTimeoutMs: number
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

export function loadConfig (env: Record<string, string | undefined>): Config {
  const host = env.HOST?.trim() || '127.0.0.1'
  const logLevel = env.LOG_LEVEL?.trim() || 'info'
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`)
  const jwtSecret = env.JWT_SECRET === '' ? undefined : env.JWT_SECRET
  if (jwtSecret !== undefined && jwtSecret.length < 32) throw new ConfigError('JWT_SECRET must be at least 32 characters')
  if (jwtSecret === undefined && env.NODE_ENV === 'production') throw new ConfigError('JWT_SECRET must be set when NODE_ENV=production')
  return {
    port: integer(env, 'PORT', 3000, 0, 65535),
    host,
    databaseUrl: databaseUrl(env.DATABASE_URL),
    dataDir: env.DATA_DIR?.trim() || './data',
    jwtSecret,
    maxUploadBytes: integer(env, 'MAX_UPLOAD_BYTES', 26214400, 1, 2 ** 40),
    tokenTtlSeconds: integer(env, 'TOKEN_TTL_SECONDS', 2592000, 60, 10 * 365 * 86400),
    sseHeartbeatMs: integer(env, 'SSE_HEARTBEAT_MS', 15000, 100, 3600000),
    eventsRetentionDays: integer(env, 'EVENTS_RETENTION_DAYS', 7, 1, 3650),
    rateLimitAuthPerMinute: integer(env, 'RATE_LIMIT_AUTH_PER_MINUTE', 20, 1, 1000000),
    corsOrigins: corsOrigins(env.CORS_ORIGINS),
    fileUrlTtlSeconds: integer(env, 'FILE_URL_TTL_SECONDS', 3600, 1, 7 * 86400),
    logLevel,
    argon2: OWASP_ARGON2,
    sseStallTimeoutMs: 30000,
    sseRetryMs: 3000,
    presenceRenewMs: 5000,
    pruneIntervalMs: 3600000,
    requestTimeoutMs: 120000,
    healthTimeoutMs: 5000
  }
}
