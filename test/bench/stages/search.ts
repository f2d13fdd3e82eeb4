// S, message search: in a conversation of BENCH_HISTORY_ROWS messages (seeded as Q's), GET /messages/search
// pages/s under autocannon for a 3-character query (served by the trigram index) and a 1-character one (which
// walks the conversation back), each for the newest page and for a page `before` a message 90% of the way back.
// Then the newest page of a search of all the reader's conversations (no peerId), for a word every message of
// the large conversation holds and for the 3-character query, with small conversations of other users beside it.
import type postgres from 'postgres'
import { connectPostgres } from '../../../src/db/client.ts'
import { Api } from '../lib/api.ts'
import type { StageContext } from '../lib/context.ts'
import { type Server, startChatServer } from '../lib/processes.ts'
import { load, type PageLoad, seedConversation } from './history.ts'

/** Page size of every search (history's default page, so Q and S pages compare). */
const PAGE = 50

export interface SearchLoads {
  query: string
  first: PageLoad
  deep: PageLoad
}

export interface SearchResult {
  rows: number
  depth: number
  connections: number
  pageSize: number
  /** "777": about 3 in 1,000 messages match. */
  three: SearchLoads
  /** "7": most messages match. */
  one: SearchLoads
  /** Newest pages of a search of all the reader's conversations (the large one and OTHER_CONVERSATIONS.ofReader small ones). */
  all: Array<{ query: string, first: PageLoad }>
}

/** The small conversations seeded beside the large one: between other users, and the reader's own. */
const OTHER_CONVERSATIONS = { between: 200, ofReader: 30, messages: 20 }

/**
 * Users and small conversations beside the large one, as in a real table. PostgreSQL sizes a conversation it
 * cannot see (the all-conversations search takes each pair from the reader's rows) as the table's rows over its
 * distinct pairs: with the large conversation alone that guess is right, in a real table it is a few rows.
 */
async function seedOtherConversations (sql: postgres.Sql, readerId: string, tag: string): Promise<void> {
  const { between, ofReader, messages } = OTHER_CONVERSATIONS
  const users = await sql<Array<{ id: string }>>`
    insert into users (username, email, password_hash)
    select ${`${tag}o`} || g, ${`${tag}o`} || g || '@bench.invalid', '-' from generate_series(1, ${2 * between}::int) g
    returning id`
  const ids = users.map((user) => user.id)
  const senders = [...ids.slice(0, between), ...Array<string>(ofReader).fill(readerId)]
  const receivers = [...ids.slice(between), ...ids.slice(0, ofReader)]
  await sql`
    insert into messages (id, sender_id, receiver_id, pair_lo, pair_hi, kind, content)
    select gen_random_uuid(), s, r, least(s, r), greatest(s, r), 'text', 'small talk ' || g
    from unnest(${senders}::uuid[], ${receivers}::uuid[]) as p(s, r), generate_series(1, ${messages}::int) g`
  await sql`
    insert into conversations (owner_id, peer_id, last_seq)
    select owner_id, peer_id, max(seq) from messages, lateral (values (sender_id, receiver_id), (receiver_id, sender_id)) as side(owner_id, peer_id)
    where sender_id = any(${senders}::uuid[]) and receiver_id = any(${receivers}::uuid[])
    group by owner_id, peer_id`
  await sql`analyze messages`
}

export async function runSearch (ctx: StageContext): Promise<SearchResult> {
  const { settings } = ctx
  let server: Server | undefined
  let api: Api | undefined
  const sql = connectPostgres(ctx.db.url, { max: 1, onnotice: () => {} })
  try {
    server = await startChatServer('server', { databaseUrl: ctx.db.url, jwtSecret: ctx.jwtSecret, dataDir: ctx.dataDir, nodeArgs: settings.serverNodeArgs })
    api = new Api(server.url)
    const { reader, lo, hi, peerId } = await seedConversation(ctx, sql, api, 's')
    await seedOtherConversations(sql, reader.id, 's')
    const depth = Math.floor(settings.historyRows * 0.9)
    const [deepRow] = await sql<Array<{ id: string }>>`select id from messages where pair_lo = ${lo} and pair_hi = ${hi} order by seq desc offset ${depth} limit 1`
    const check = async (path: string) => {
      const answer = await api!.call('GET', path, undefined, reader.token)
      if (answer.status !== 200 || !Array.isArray(answer.json?.messages) || answer.json.messages.length === 0) {
        throw new Error(`GET ${path}: ${answer.status} ${JSON.stringify(answer.json).slice(0, 200)}`)
      }
    }
    const measure = async (query: string): Promise<SearchLoads> => {
      const firstPath = `/messages/search?q=${encodeURIComponent(query)}&peerId=${peerId}&limit=${PAGE}`
      const deepPath = `${firstPath}&before=${deepRow!.id}`
      for (const path of [firstPath, deepPath]) await check(path)
      return {
        query,
        first: await load(`${server!.url}${firstPath}`, reader.token, settings.connections, settings.seconds),
        deep: await load(`${server!.url}${deepPath}`, reader.token, settings.connections, settings.seconds)
      }
    }
    const measureAll = async (query: string) => {
      const path = `/messages/search?q=${encodeURIComponent(query)}&limit=${PAGE}`
      await check(path)
      return { query, first: await load(`${server!.url}${path}`, reader.token, settings.connections, settings.seconds) }
    }
    const three = await measure('777')
    const one = await measure('7')
    const all = [await measureAll('message'), await measureAll('777')]
    return { rows: settings.historyRows, depth, connections: settings.connections, pageSize: PAGE, three, one, all }
  } finally {
    await api?.close()
    await server?.stop()
    await sql.end({ timeout: 5 })
  }
}
