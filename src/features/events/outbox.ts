// The outbox: a change and the durable events it causes commit together; the events reach this instance's
// streams after the commit, and other instances through the bus notice sent with it.
import fastJson from 'fast-json-stringify'
import type { Bus } from '../../bus/index.ts'
import { type Db, transaction } from '../../db/client.ts'
import { MODEL_SCHEMAS } from '../../schemas/models.ts'
import type { Hubs } from './hub.ts'
import { appendEvents, type EventAppend, type EventDraft, type StoredEvent } from './repository.ts'
import { DURABLE_EVENTS, type DurableEventData, type DurableEventType } from './schemas.ts'

export type Emit = <K extends DurableEventType>(userId: string, type: K, data: DurableEventData[K]) => void

const externalSchemas = Object.fromEntries(MODEL_SCHEMAS.map((schema) => [schema.$id!, schema]))
// Event data goes through its schema, like a response body: nothing outside the contract can leak into it.
const serializers = Object.fromEntries(Object.entries(DURABLE_EVENTS).map(([type, schema]) =>
  [type, fastJson(schema as never, { schema: externalSchemas as never })])) as unknown as Record<DurableEventType, (data: unknown) => string>

export class Outbox {
  constructor (
    private readonly db: Db,
    private readonly bus: Bus,
    private readonly hubs: Hubs
  ) {}

  /**
   * Runs `work` in a transaction; the events it emits are stored in that same transaction and pushed to
   * streams only after it commits. A rolled-back change leaves no event, and a committed one always has its events.
   */
  async transaction<T> (work: (tx: Db, emit: Emit) => Promise<T>): Promise<T> {
    let append: EventAppend | undefined
    const { value, lastRows } = await transaction(this.db, async (tx) => {
      const drafts: EventDraft[] = []
      const emit: Emit = (userId, type, data) => { drafts.push({ userId, type, data: serializers[type](data), messageId: carriedMessage(type, data) }) }
      const value = await work(tx, emit)
      if (drafts.length === 0) return { value, last: [] }
      append = appendEvents(drafts)
      // The ids are taken by the append, in the same round trip: a notice inside the transaction names the users only.
      const notice = this.bus.noticeInTx({ t: 'e', u: [...new Set(drafts.map((draft) => draft.userId))].map((userId) => [userId]) })
      return { value, last: notice === undefined ? [append.statement] : [append.statement, notice] }
    })
    if (append === undefined) return value
    const stored = append.stored(lastRows[0]!)
    // A bus whose notices are not transactional announces now; if this process dies first, the other
    // instances' sweeps find the events in the table.
    this.bus.notifyCommitted({ t: 'e', u: newestPerUser(stored) })
    this.hubs.offer(stored)
    return value
  }
}

/** The message whose content an event carries: erasing that message for a user erases the event too. */
function carriedMessage (type: DurableEventType, data: unknown): string | null {
  return type === 'message.created' || type === 'message.updated' ? (data as { id: string }).id : null
}

function newestPerUser (events: StoredEvent[]): Array<[string, number]> {
  const newest = new Map<string, number>()
  for (const event of events) newest.set(event.userId, Math.max(event.id, newest.get(event.userId) ?? 0))
  return [...newest]
}
