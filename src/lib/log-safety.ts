// What may reach a log line: request URLs without the access_token value or a file link's signature, errors without query parameters or row data.

function isTokenParameter (raw: string): boolean {
  let name = raw
  try {
    name = decodeURIComponent(raw.replace(/\+/g, ' '))
  } catch {}
  // A signed file link's sig opens the file to whoever reads it until it expires: a credential too.
  return ['access_token', 'sig'].includes(name.toLowerCase())
}

/** Replaces the value of every access_token and sig query parameter (however its name is encoded) before the URL is logged. */
export function redactUrl (url: string): string {
  const start = url.indexOf('?')
  if (start < 0) return url
  const query = url.slice(start + 1).split('&').map((pair) => {
    const equals = pair.indexOf('=')
    const name = equals < 0 ? pair : pair.slice(0, equals)
    return isTokenParameter(name) ? `${name}=[REDACTED]` : pair
  }).join('&')
  return `${url.slice(0, start + 1)}${query}`
}

// drizzle's DrizzleQueryError puts the query parameters (a password hash, message text) into its message.
const PARAMS = /\nparams: [\s\S]*?(?=\n\s+at |$)/

/** Properties kept from an error: never the query parameters, nor PostgreSQL's `detail` (it can quote a whole row). */
const KEPT = ['code', 'statusCode', 'severity', 'routine', 'schema_name', 'table_name', 'column_name', 'constraint_name', 'query'] as const

interface SerializedError {
  [key: string]: unknown
  type: string
  message: string
  stack: string
}

/** The pino serializer for errors: type, message, stack, safe properties and the cause chain, with values scrubbed. */
export function serializeError (err: Error, depth = 0): SerializedError {
  const out: SerializedError = {
    type: err.constructor.name,
    message: String(err.message).replace(PARAMS, '\nparams: [REDACTED]'),
    stack: String(err.stack).replace(PARAMS, '\nparams: [REDACTED]')
  }
  for (const key of KEPT) {
    const value = (err as unknown as Record<string, unknown>)[key]
    if (value !== undefined) out[key] = value
  }
  if (err.cause instanceof Error && depth < 4) out.cause = serializeError(err.cause, depth + 1)
  return out
}
