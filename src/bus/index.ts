// Chooses the bus for the database in use: LISTEN/NOTIFY on PostgreSQL, in-process on the embedded database.
import type { Database } from '../db/client.ts'
import type { Bus } from './bus.ts'
import { createInProcessBus } from './in-process.ts'
import { createPostgresBus, type PostgresBusOptions } from './postgres.ts'

export type { Bus, BusMessage } from './bus.ts'

export async function createBus (database: Database, options: PostgresBusOptions = {}): Promise<Bus> {
  return database.kind === 'pglite' ? createInProcessBus() : createPostgresBus(database, options)
}
