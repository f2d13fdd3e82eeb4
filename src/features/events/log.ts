// Reading the durable event log: where a user's ids stand, replay reads (concurrent reads of many users share
// one query), and pruning by age.
import type { Db } from '../../db/client.ts'
import { Batcher } from '../../lib/batcher.ts'
import type { HubStore } from './hub.ts'
import { type EventRead, latestEventId, latestEventIds, oldestKeptEventId, pruneEventsBefore, readEventsAfterMany, type StoredEvent } from './repository.ts'

export class EventLog implements HubStore {
  // One notice from another instance can name dozens of users.
  private readonly reads: Batcher<EventRead, StoredEvent[]>

  constructor (private readonly db: Db) {
    this.reads = new Batcher((batch) => readEventsAfterMany(db, batch), { maxBatch: 200, maxInFlight: 2 })
  }

  async latestEventId (userId: string): Promise<number> {
    return (await latestEventId(this.db, userId)) ?? 0
  }

  latestEventIds (userIds: string[]): Promise<Map<string, number>> {
    return latestEventIds(this.db, userIds)
  }

  readEventsAfter (userId: string, afterId: number, limit: number): Promise<StoredEvent[]> {
    return this.reads.submit({ userId, afterId, limit })
  }

  oldestKeptEventId (userId: string): Promise<number | undefined> {
    return oldestKeptEventId(this.db, userId)
  }

  pruneBefore (before: Date): Promise<number> {
    return pruneEventsBefore(this.db, before)
  }
}
