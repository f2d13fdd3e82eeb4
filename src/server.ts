// Process entry: configuration from the environment, the app, listening, and a graceful stop on signals.
import closeWithGrace from 'close-with-grace'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'

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

const app = await buildApp(config)

closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
  if (err) app.log.error({ err }, 'stopping after an error')
  else app.log.info({ signal }, 'stopping: closing streams, finishing requests, closing the database')
  await app.close()
})

await app.listen({ port: config.port, host: config.host })
const address = app.server.address()
const base = typeof address === 'object' && address !== null
  ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  : String(address)
app.log.info(`chat server listening on ${base} (${app.database.kind === 'pglite' ? `embedded PGlite in ${config.dataDir}/db` : 'PostgreSQL'}); Swagger UI at ${base}/docs, OpenAPI at ${base}/openapi.json`)
process.stdout.write(`\nChat server listening on ${base}\nSwagger UI:  ${base}/docs\nOpenAPI:     ${base}/openapi.json\n\n`)
