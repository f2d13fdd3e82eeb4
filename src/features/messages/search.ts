// Searching the caller's visible text messages: case-insensitive substring match in any script, newest first,
// paged by a message id. Runs per conversation of the caller (one, with peerId), each by the pair index or the
// trigram index, whichever the planner finds cheaper for the query.
import { and, eq, or, sql } from 'drizzle-orm'
import { type Db, queryRowsPlannedEachTime } from '../../db/client.ts'
import { conversations, messageHidden, messages } from '../../db/schema.ts'
import { fail } from '../../errors.ts'
import type { Message } from '../../schemas/models.ts'
import type { FilesService } from '../files/service.ts'
import type { UsersService } from '../users/service.ts'
import { toMessage } from './present.ts'
import { findConversationSpan, findMessages, pairOf } from './repository.ts'

export interface SearchQuery {
  q: string
  peerId?: string
  before?: string
  limit: number
}

/** `q` as an ILIKE pattern matching it anywhere, with `%`, `_` and `\` taken literally. */
export function containsPattern (q: string): string {
  return `%${q.replace(/[\\%_]/g, '\\$&')}%`
}

export class MessageSearch {
  constructor (private readonly db: Db, private readonly users: UsersService, private readonly files: FilesService) {}

  async search (userId: string, query: SearchQuery): Promise<{ messages: Message[], hasMore: boolean }> {
    let span: ConversationSpan | undefined
    if (query.peerId !== undefined) {
      if (query.peerId === userId) fail('CANNOT_MESSAGE_SELF', 'There is no conversation with yourself')
      const [peer, conversation] = await Promise.all([this.users.find({ id: query.peerId }), findConversationSpan(this.db, userId, query.peerId)])
      if (peer === undefined) fail('USER_NOT_FOUND')
      span = { peerId: query.peerId, clearedSeq: conversation?.clearedSeq ?? 0, lastSeq: conversation?.lastSeq ?? 0 }
    }
    let beforeSeq: number | undefined
    if (query.before !== undefined) {
      const [row] = await this.db.select({ seq: messages.seq }).from(messages)
        .where(and(eq(messages.id, query.before), or(eq(messages.senderId, userId), eq(messages.receiverId, userId))))
      if (row === undefined) fail('MESSAGE_NOT_FOUND', 'before is not one of your messages')
      beforeSeq = row.seq
    }
    const page = { ...query, beforeSeq, limit: query.limit + 1 }
    const ids = span !== undefined
      ? await this.matchingIdsIn(userId, span, page)
      : await this.isRare(query.q) ? await this.rareMatchingIds(userId, page) : await this.matchingIds(userId, page)
    const rows = new Map((await findMessages(this.db, ids.slice(0, query.limit))).map((row) => [row.id, row]))
    // A match deleted between the two reads is simply left out.
    const found = ids.slice(0, query.limit).flatMap((id) => rows.has(id) ? [toMessage(rows.get(id)!, this.files)] : [])
    return { messages: found, hasMore: ids.length > query.limit }
  }

  /**
   * Whether PostgreSQL expects few messages of the whole table to contain `q` (from the trigram index's
   * statistics; a query of 1 or 2 characters cannot use that index). A search of all conversations then asks the
   * index once (rareMatchingIds) instead of once per conversation, and a common word walks each conversation back.
   */
  private async isRare (q: string): Promise<boolean> {
    return [...q].length >= 3 && await expectedMatches(this.db, q) <= RARE_MATCHES
  }

  /**
   * matchingIds for a pattern few messages contain: the trigram index read once (materialized: as a join the
   * planner read it again for each conversation), its matches kept when they are the caller's and not cleared.
   * For '777' with three 1,000,000-message conversations of such texts in the table (EXPLAIN ANALYZE): 44 to 47 ms
   * a page, where asking the index once per conversation took 205 to 605; a word no message holds 3 ms, not 74.
   */
  private async rareMatchingIds (userId: string, query: PageQuery): Promise<string[]> {
    const rows = await queryRowsPlannedEachTime<{ id: string }>(this.db, sql`
      with found as materialized (
        select m.id, m.seq, m.pair_lo, m.pair_hi from ${messages} as m
        where (m.pair_lo = ${userId} or m.pair_hi = ${userId})
          ${query.beforeSeq === undefined ? sql`` : sql`and m.seq < ${query.beforeSeq}`}
          and ${matches(userId, query.q)}
      )
      select found.id from found
      join ${conversations} as c on c.owner_id = ${userId}
        and c.peer_id = (case when found.pair_lo = ${userId} then found.pair_hi else found.pair_lo end) and found.seq > c.cleared_seq
      order by found.seq desc
      limit ${query.limit}`)
    return rows.map((row) => row.id)
  }

  /**
   * Ids of matching messages, newest first. Per conversation of the caller, after the point they cleared it,
   * walking the conversation's pair index back (or for a rarer pattern, the planner's choice, the trigram index).
   */
  private async matchingIds (userId: string, query: PageQuery): Promise<string[]> {
    // Planned for the pattern each time: the trigram index for a rare one, the pair index for a common one.
    const rows = await queryRowsPlannedEachTime<{ id: string }>(this.db, sql`
      select found.id from ${conversations} as c
      cross join lateral (
        select m.id, m.seq from ${messages} as m
        where m.pair_lo = least(c.owner_id, c.peer_id) and m.pair_hi = greatest(c.owner_id, c.peer_id)
          and m.seq > c.cleared_seq ${query.beforeSeq === undefined ? sql`` : sql`and m.seq < ${query.beforeSeq}`}
          and ${matches(userId, query.q, 'per row')}
        order by m.seq desc
        limit ${query.limit}
      ) as found
      where c.owner_id = ${userId} and c.last_seq > c.cleared_seq
      order by found.seq desc
      limit ${query.limit}`)
    return rows.map((row) => row.id)
  }

  /**
   * matchingIds in one conversation, with its pair and its span of seqs as values: the planner then sizes the
   * plan by that conversation. Read from the conversation's row inside the statement, they are a guess to it
   * (rows / distinct pair_lo / distinct pair_hi: 63 rows for a conversation of 1,000,000 messages in a table of
   * 130 users), and for a 3-character query it intersected the trigram index with the whole conversation's pair
   * index, 200 ms a page where the trigram index alone takes 20.
   */
  private async matchingIdsIn (userId: string, span: ConversationSpan, query: PageQuery): Promise<string[]> {
    if (span.lastSeq <= span.clearedSeq) return []
    const [lo, hi] = pairOf(userId, span.peerId)
    const rows = await queryRowsPlannedEachTime<{ id: string }>(this.db, sql`
      select m.id from ${messages} as m
      where m.pair_lo = ${lo} and m.pair_hi = ${hi}
        and m.seq > ${span.clearedSeq} and m.seq <= ${Math.min(span.lastSeq, (query.beforeSeq ?? Number.MAX_SAFE_INTEGER) - 1)}
        and ${matches(userId, query.q)}
      order by m.seq desc
      limit ${query.limit}`)
    return rows.map((row) => row.id)
  }
}

type PageQuery = SearchQuery & { beforeSeq: number | undefined }

/** How many messages of the whole table PostgreSQL expects to contain `q` (its plan's row estimate). */
export async function expectedMatches (db: Db, q: string): Promise<number> {
  const [row] = await queryRowsPlannedEachTime<Record<string, unknown>>(db, sql`
    explain (format json) select 1 from ${messages} as m where m.content ilike ${containsPattern(q)} escape '\\'`)
  // One column, "QUERY PLAN": JSON text or, as the driver parses it, its value.
  const explained = Object.values(row ?? {})[0]
  const plan = (typeof explained === 'string' ? JSON.parse(explained) : explained) as Array<{ Plan: { 'Plan Rows': number } }>
  return plan[0]!.Plan['Plan Rows']
}

/**
 * Up to this many expected matches in the whole table, a search of all conversations reads the trigram index's
 * matches (each fetched from the table); past it, it walks each conversation back until the page is full. The
 * estimate is rough (for '777' in 2,000,000 messages of which 7,400 hold it, 219 to 20,228 depending on the
 * statistics' sample) while common words come out in the millions.
 */
export const RARE_MATCHES = 50_000

interface ConversationSpan {
  peerId: string
  clearedSeq: number
  lastSeq: number
}

/**
 * A visible text message of `m` containing `q`, case-insensitively. The hidden check `per row` is kept a filter
 * (`offset 0` stops PostgreSQL from turning it into an anti-join): in the lateral of matchingIds, where the
 * planner cannot size a conversation, it chose a hash anti-join, whose output has no order, so it read and sorted
 * the whole conversation (1.6 s for a common word in 1,000,000 messages) instead of walking its index back and
 * stopping at the page's end (3 ms). Where the conversation is known (matchingIdsIn), the anti-join is the better plan.
 */
function matches (userId: string, q: string, hiddenCheck: 'as planned' | 'per row' = 'as planned') {
  return sql`m.kind = 'text' and m.content ilike ${containsPattern(q)} escape '\\'
    and not exists (select 1 from ${messageHidden} as h where h.message_id = m.id and h.user_id = ${userId}${hiddenCheck === 'per row' ? sql` offset 0` : sql``})`
}
