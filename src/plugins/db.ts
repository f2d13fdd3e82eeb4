// Opens and migrates the database for the app's lifetime, and provides the event bus between instances.
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

async function dbPlugin (app: FastifyInstance, options: { databaseUrl: string | undefined, dataDir: string }) {
  const database = await openDatabase(options)
  try {
    await migrateDatabase(database)
  } catch (err) {
    await database.close()
    throw err
  }
  const bus = await createBus(database)
  app.decorate<Database>('database', database)
  app.decorate('db', database.db)
  app.decorate('bus', bus)
  app.addHook('onClose', async () => {
    await bus.close()
    await database.close()
  })
}

export default fp(dbPlugin, { name: 'db' })
