// Applies the database migrations and exits (npm run db:migrate); the server also applies them at start.
import { ConfigError, loadConfig } from '../config.ts'
import { openDatabase } from '../db/client.ts'
import { migrateDatabase } from '../db/migrate.ts'

try {
  const config = loadConfig(process.env)
  const database = await openDatabase(config)
  try {
    await migrateDatabase(database)
  } finally {
    await database.close()
  }
  process.stdout.write(`migrations applied (${database.kind === 'pglite' ? `PGlite in ${config.dataDir}/db` : 'PostgreSQL'})\n`)
} catch (err) {
  process.stderr.write(`chat-server: ${err instanceof ConfigError ? 'configuration error: ' : ''}${(err as Error).message}\n`)
  process.exit(1)
}
