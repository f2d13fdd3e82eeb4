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
