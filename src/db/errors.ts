// Recognizes database errors the services turn into API errors, whichever driver raised them.

interface PgErrorLike {
  code?: string
  constraint?: string
  constraint_name?: string
  cause?: unknown
}

/** The name of the unique constraint (or index) an insert or update violated, if that is what failed. */
export function violatedUniqueConstraint (err: unknown): string | undefined {
  for (let current = err as PgErrorLike | undefined, depth = 0; current && depth < 4; current = current.cause as PgErrorLike | undefined, depth++) {
    if (current.code === '23505') return current.constraint_name ?? current.constraint ?? ''
  }
  return undefined
}

/**
 * The table of the row an insert or update named that does not exist (any more: deleted while the request ran),
 * from its foreign key's name, which drizzle-kit writes as `<table>_<column>_<referenced table>_<referenced column>_fk`.
 */
export function missingReferencedRow (err: unknown): string | undefined {
  for (let current = err as (PgErrorLike & { message?: unknown }) | undefined, depth = 0; current && depth < 4; current = current.cause as PgErrorLike | undefined, depth++) {
    if (current.code !== '23503') continue
    // (Not a delete refused because rows still refer to the row: that one names the referencing table.)
    if (typeof current.message === 'string' && !current.message.startsWith('insert or update')) return undefined
    return /_([a-z]+)_id_fk$/.exec(current.constraint_name ?? current.constraint ?? '')?.[1]
  }
  return undefined
}

interface ConnectionErrorLike {
  code?: unknown
  errno?: unknown
  message?: unknown
  cause?: unknown
}

// postgres.js's own codes for a connection it lost or could not open, and the socket errors it passes on.
const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT',
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'
])

/**
 * Whether an error means the database could not be reached (rather than that a statement failed): a lost
 * or refused connection, a server shutting down or starting up, too many connections, or a closed PGlite.
 */
export function isDatabaseUnavailable (err: unknown): boolean {
  for (let current = err as ConnectionErrorLike | undefined, depth = 0; current && depth < 4; current = current.cause as ConnectionErrorLike | undefined, depth++) {
    if (typeof current !== 'object') return false
    const code = current.code
    if (typeof code === 'string') {
      if (CONNECTION_CODES.has(code)) return true
      // SQLSTATE class 08 (connection exception); 57P01-57P03 (admin shutdown, crash shutdown, cannot connect
      // now: starting up or shutting down); 53300 (too many connections).
      if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300') return true
    }
    if (typeof current.message === 'string' && current.message === 'PGlite is closed') return true
  }
  return false
}

/** The level to log a failure at: a database that cannot be reached is a warning (it is retried), anything else an error. */
export function logLevel (err: unknown): 'warn' | 'error' {
  return isDatabaseUnavailable(err) ? 'warn' : 'error'
}
