// E, the embedded default: D's load against a server on PGlite (no DATABASE_URL, a DATA_DIR of its own), with
// the fresh server's idle memory before any load and the open loop at a fixed 100 msgs/s.
import { mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { type StageContext, sleep } from '../lib/context.ts'
import { readRss } from '../lib/processes.ts'
import { type DeliveryResult, runDelivery } from './delivery.ts'

export const EMBEDDED_OPEN_RATE = 100

export interface EmbeddedResult extends DeliveryResult {
  /** VmRSS of the fresh server, listening and settled, before any user exists. */
  idleRssBytes: number
}

export async function runEmbedded (ctx: StageContext): Promise<EmbeddedResult> {
  let idleRssBytes = NaN
  const result = await runDelivery(ctx, {
    instances: 1,
    embedded: { dataDir: mkdtempSync(join(ctx.dataDir, 'embedded-')) },
    openRate: EMBEDDED_OPEN_RATE,
    onStarted: async ([server]) => {
      await sleep(2000)
      idleRssBytes = readRss(server!.pid)
    }
  })
  return { ...result, idleRssBytes }
}
