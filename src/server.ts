// Process entry: configuration from the environment, the app, listening, and a graceful stop on signals.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { BusUnavailableError } from './bus/index.ts'
import { ConfigError, loadConfig } from './config.ts'
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

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'stopping after an error')
  else app.log.info({ signal }, 'stopping: closing streams, finishing requests, closing the database')
  await app.close()
})

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
