// Process entry: configuration from the environment, the app, listening, and a graceful stop on signals.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { BusUnavailableError } from './bus/index.ts'
import { ConfigError, loadConfig } from './config.ts'
import { isDatabaseUnavailable } from './db/errors.ts'
import { LockedError } from './lib/dir-lock.ts'

let config
try {
  config = loadConfig(process.env)
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`chat-server: configuration error: ${err.message}\n`)
    process.exit(1)
  }
  throw err
}

/** A start-up failure the operator can fix: one line, no stack trace. */
function stop (message: string): never {
  process.stderr.write(`chat-server: ${message}\n`)
  process.exit(1)
}

let app: Awaited<ReturnType<typeof buildApp>>
try {
  app = await buildApp(config)
} catch (err) {
  if (err instanceof LockedError) stop(`cannot open the embedded database: ${err.message}`)
  if (err instanceof BusUnavailableError) stop(err.message)
  throw err
}

const GRACE_MS = 10_000

closeWithGrace({
  delay: GRACE_MS,
  // Errors are ours to judge (below): one from a database connection must not stop an instance that can serve.
  skip: ['uncaughtException', 'unhandledRejection'],
  // Everything it reports goes through pino as JSON, never to the console.
  logger: { error: (message: unknown) => app.log.error(message instanceof Error ? { err: message } : { detail: String(message) }, 'while stopping') },
  onTimeout: (delay: number) => app.log.error({ delay }, 'stopping took longer than the grace period: exiting')
}, async ({ signal }) => {
  app.log.info({ signal }, 'stopping: closing streams, finishing requests, closing the database')
  await app.close()
})

let failing = false
/** An error no caller caught: a lost database connection is survivable (requests answer 503 until it is back), anything else is a bug. */
function onUncaught (reason: unknown, origin: string): void {
  // A rejection can carry anything (even undefined): the log's error serializer takes an Error.
  const err = reason instanceof Error ? reason : new Error(`non-error value: ${String(reason)}`)
  if (isDatabaseUnavailable(reason)) {
    app.log.warn({ err, origin }, 'database connection error outside a request: still serving')
    return
  }
  if (failing) return
  failing = true
  app.log.error({ err, origin }, 'stopping after an error')
  setTimeout(() => {
    app.log.error({ delay: GRACE_MS }, 'stopping took longer than the grace period: exiting')
    process.exit(1)
  }, GRACE_MS).unref()
  app.close().catch(() => {}).finally(() => process.exit(1))
}
process.on('uncaughtException', onUncaught)
process.on('unhandledRejection', (reason) => onUncaught(reason, 'unhandledRejection'))

try {
  await app.listen({ port: config.port, host: config.host })
} catch (err) {
  await app.close()
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') stop(`cannot listen on ${config.host}:${config.port} (${code}): check HOST and PORT`)
  throw err
}
const address = app.server.address()
const base = typeof address === 'object' && address !== null
  ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  : String(address)
app.log.info(`chat server listening on ${base} (${app.database.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}/db` : 'PostgreSQL'}); Swagger UI at ${base}/docs, OpenAPI at ${base}/openapi.json`)
process.stdout.write(`\nChat server listening on ${base}\nSwagger UI:  ${base}/docs\nOpenAPI:     ${base}/openapi.json\n\n`)
