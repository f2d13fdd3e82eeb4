// Opens and migrates the database for the app's lifetime, and provides the event bus between instances
// (NATS when busUrl is set, else the database's own).
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { type Database, type Db, openDatabase } from '../db/client.ts'
import { migrateDatabase } from '../db/migrate.ts'
import { type Bus, createBus } from '../bus/index.ts'

declare module 'fastify' {
  interface FastifyInstance {
    database: Database
    db: Db
    bus: Bus
  }
}

export interface DbPluginOptions {
  databaseUrl: string | undefined
  dataDir: string
  /** nats:// URL of the event bus, when not PostgreSQL's LISTEN/NOTIFY. */
  busUrl?: string | undefined
  faultKillAfterCommit?: boolean
}

async function dbPlugin (app: FastifyInstance, options: DbPluginOptions) {
  const database = await openDatabase(options)
  try {
    await migrateDatabase(database)
  } catch (err) {
    await database.close()
    throw err
  }
  let bus: Bus
  try {
    bus = await createBus(database, {
      url: options.busUrl,
      killBeforePublish: options.faultKillAfterCommit,
      warn: (message, err) => app.log.warn({ err }, message)
    })
  } catch (err) {
    await database.close()
    throw err
  }
  app.decorate<Database>('database', database)
  app.decorate('db', database.db)
  app.decorate('bus', bus)
  app.addHook('onClose', async () => {
    await bus.close()
    await database.close()
  })
}

export default fp(dbPlugin, { name: 'db' })
