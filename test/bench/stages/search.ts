// S, message search: in a conversation of BENCH_HISTORY_ROWS messages (seeded as Q's), GET /messages/search
// pages/s under autocannon for a 3-character query (served by the trigram index) and a 1-character one (which
// walks the conversation back), each for the newest page and for a page `before` a message 90% of the way back.
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
    const depth = Math.floor(settings.historyRows * 0.9)
    const [deepRow] = await sql<Array<{ id: string }>>`select id from messages where pair_lo = ${lo} and pair_hi = ${hi} order by seq desc offset ${depth} limit 1`
    const measure = async (query: string): Promise<SearchLoads> => {
      const firstPath = `/messages/search?q=${encodeURIComponent(query)}&peerId=${peerId}&limit=${PAGE}`
      const deepPath = `${firstPath}&before=${deepRow!.id}`
      for (const path of [firstPath, deepPath]) {
        const check = await api!.call('GET', path, undefined, reader.token)
        if (check.status !== 200 || !Array.isArray(check.json?.messages) || check.json.messages.length === 0) {
          throw new Error(`GET ${path}: ${check.status} ${JSON.stringify(check.json).slice(0, 200)}`)
        }
      }
      return {
        query,
        first: await load(`${server!.url}${firstPath}`, reader.token, settings.connections, settings.seconds),
        deep: await load(`${server!.url}${deepPath}`, reader.token, settings.connections, settings.seconds)
      }
    }
    return { rows: settings.historyRows, depth, connections: settings.connections, pageSize: PAGE, three: await measure('777'), one: await measure('7') }
  } finally {
    await api?.close()
    await server?.stop()
    await sql.end({ timeout: 5 })
  }
}
