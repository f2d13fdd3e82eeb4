// Chooses the bus: NATS when BUS_URL is set, else LISTEN/NOTIFY on PostgreSQL, in-process on the embedded database.
import type { Database } from '../db/client.ts'
import type { Bus } from './bus.ts'
import { createInProcessBus } from './in-process.ts'
import { createNatsBus, type NatsBusOptions } from './nats.ts'
import { createPostgresBus, type PostgresBusOptions } from './postgres.ts'

export type { Bus, BusKind, BusMessage } from './bus.ts'
export { BusUnavailableError } from './bus.ts'

export interface BusOptions extends PostgresBusOptions, Partial<NatsBusOptions> {}

export async function createBus (database: Database, options: BusOptions = {}): Promise<Bus> {
  if (options.url !== undefined) return createNatsBus({ ...options, url: options.url })
  return database.kind === 'pglite' ? createInProcessBus() : createPostgresBus(database, options)
}
