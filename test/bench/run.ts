// `npm run bench`: runs the benchmark stages (H, P, D, D2, D2N, R, E, C, Q, S, U) against a fresh PostgreSQL database of its
// own, prints the figures, ratios and targets, and writes test/bench/results/bench-<time>.json.
// Every server under test and load generator is a child process; all are stopped, and the database dropped,
// however the run ends.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StageContext } from './lib/context.ts'
import { type BenchDatabase, createBenchDatabase, migrate, postgresVersion } from './lib/database.ts'
import { killAllChildrenNow, ROOT, stopAllChildren } from './lib/processes.ts'
import { latencyChart } from './lib/chart.ts'
import { type ProfileSummary, profilesSince, renderProfile } from './lib/profile.ts'
import { chartSeries, ratios, renderTable, type StageResults, targets } from './lib/report.ts'
import { loadSettings, type StageName } from './lib/settings.ts'
import { runDelivery } from './stages/delivery.ts'
import { runEmbedded } from './stages/embedded.ts'
import { runHello } from './stages/hello.ts'
import { runHistory } from './stages/history.ts'
import { runIdle } from './stages/idle.ts'
import { runPostgres } from './stages/postgres.ts'
import { runReceipts } from './stages/receipts.ts'
import { runSearch } from './stages/search.ts'
import { runUploads } from './stages/uploads.ts'

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url))
/** With BENCH_WRITE_DOCS=1 the chart is also written here, the copy the README shows. */
const DOCS_CHART = fileURLToPath(new URL('../../docs/latency.svg', import.meta.url))

const log = (message: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)}  ${message}\n`)

const STAGES: Record<StageName, { title: string, run: (ctx: StageContext) => Promise<unknown> }> = {
  H: { title: 'H: Fastify hello world under autocannon', run: runHello },
  P: { title: 'P: single-row message INSERTs, 8 connections', run: runPostgres },
  D: { title: 'D: delivered messages, one instance', run: (ctx) => runDelivery(ctx, { instances: 1, openRate: ctx.settings.openRate }) },
  D2: { title: 'D2: delivered messages, send on instance A, streams on instance B', run: (ctx) => runDelivery(ctx, { instances: 2, openRate: ctx.settings.openRate }) },
  D2N: { title: 'D2N: D2 on the NATS bus (BENCH_BUS_URL)', run: (ctx) => runDelivery(ctx, { instances: 2, openRate: ctx.settings.openRate, busUrl: ctx.settings.busUrl }) },
  R: { title: 'R: read receipts (unbatched notifying commits) from many users, PostgreSQL bus then NATS', run: runReceipts },
  E: { title: 'E: delivered messages, one embedded (PGlite) instance', run: runEmbedded },
  C: { title: 'C: idle event streams', run: runIdle },
  Q: { title: 'Q: history pages of a 1,000,000-message conversation', run: runHistory },
  S: { title: 'S: search pages in a 1,000,000-message conversation', run: runSearch },
  U: { title: 'U: file uploads (1 MiB, 10 MiB) and 12-megapixel JPEG images', run: runUploads }
}

let db: BenchDatabase | undefined
let dataDir: string | undefined
let cleaning: Promise<void> | undefined
/** Set once the run is being aborted: no further stage starts and no result is written. */
let aborting = false

function cleanup (): Promise<void> {
  cleaning ??= (async () => {
    await stopAllChildren().catch((err: unknown) => log(`stopping child processes: ${String(err)}`))
    if (db !== undefined) {
      await db.drop().then(() => log(`dropped database ${db!.name}`), (err: unknown) => log(`could not drop database ${db!.name}: ${String(err)}`))
    }
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
  })()
  return cleaning
}

async function abort (reason: string, code: number): Promise<never> {
  if (aborting) return new Promise<never>(() => {})
  aborting = true
  log(`aborting: ${reason}`)
  await cleanup()
  process.exit(code)
}

process.on('exit', killAllChildrenNow)
process.once('SIGINT', () => { void abort('interrupted (SIGINT)', 130) })
process.once('SIGTERM', () => { void abort('terminated (SIGTERM)', 143) })
process.on('uncaughtException', (err) => { void abort(`uncaught exception: ${err.stack ?? err}`, 1) })
process.on('unhandledRejection', (err) => { void abort(`unhandled rejection: ${(err as Error)?.stack ?? err}`, 1) })

async function main (): Promise<void> {
  const settings = loadSettings()
  const deadline = setTimeout(() => { void abort(`the run passed its deadline of ${settings.deadlineSeconds} s (BENCH_DEADLINE_SECONDS)`, 2) }, settings.deadlineSeconds * 1000)
  deadline.unref()
  const startedAt = new Date()
  const cpu = cpus()
  const machine = {
    cores: cpu.length,
    cpuModel: cpu[0]?.model ?? 'unknown',
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    kernel: release(),
    postgres: await postgresVersion(settings.databaseUrl),
    loadAverageAtStart: loadavg().map((n) => Number(n.toFixed(2)))
  }
  log(`machine: ${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.postgres.split(' on ')[0]}; load average ${machine.loadAverageAtStart.join(' ')}`)
  if (machine.loadAverageAtStart[0]! > machine.cores * 0.5) log('note: the machine is busy (load average); figures will be low and noisy')

  log('building the server (npm run build) into dist/, what the stages start')
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' })
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`)

  db = await createBenchDatabase(settings.databaseUrl)
  log(`database ${db.name} created; migrating`)
  await migrate(db.url)
  dataDir = mkdtempSync(join(tmpdir(), 'chat-bench-'))
  const ctx: StageContext = { settings, db, jwtSecret: randomBytes(32).toString('hex'), dataDir, log }

  const stages: StageResults = {}
  const timings: Record<string, number> = {}
  const profiles: Record<string, ProfileSummary[]> = {}
  for (const name of settings.stages) {
    if (aborting) return
    const stage = STAGES[name]
    log(`--- ${stage.title} (${settings.seconds} s)`)
    const t0 = performance.now()
    const startedEpoch = Date.now()
    try {
      (stages as Record<string, unknown>)[name] = await stage.run(ctx)
    } catch (err) {
      if (aborting) return
      const message = (err as Error)?.stack ?? String(err)
      log(`${name} failed: ${message}`)
      ;(stages as Record<string, unknown>)[name] = { error: (err as Error)?.message ?? String(err) }
      // A failed stage must not leave its servers running into the next one.
      await stopAllChildren()
    }
    timings[name] = Number(((performance.now() - t0) / 1000).toFixed(1))
    log(`${name} took ${timings[name]} s`)
    // The servers have stopped: each wrote its profile as it exited.
    if (settings.cpuProfile) {
      try {
        profiles[name] = profilesSince(startedEpoch, (stages as Record<string, { loadWindowUs?: [number, number] }>)[name]?.loadWindowUs)
        for (const summary of profiles[name]) log(renderProfile(name, summary))
      } catch (err) {
        log(`could not summarize the CPU profiles of ${name}: ${String(err)}`)
      }
    }
  }

  if (aborting) return
  const finishedAt = new Date()
  const report = {
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    machine: { ...machine, loadAverageAtEnd: loadavg().map((n) => Number(n.toFixed(2))) },
    settings: { ...settings, databaseUrl: redact(settings.databaseUrl) },
    stageSeconds: timings,
    stages,
    ...(settings.cpuProfile ? { profiles } : {}),
    ratios: ratios(stages),
    targets: targets(stages)
  }
  mkdirSync(RESULTS_DIR, { recursive: true })
  const file = join(RESULTS_DIR, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`)
  const json = JSON.stringify(report, (_key, value) => typeof value === 'number' && !Number.isFinite(value) ? null : value, 2)
  writeFileSync(file, json)
  writeFileSync(join(RESULTS_DIR, 'latest.json'), json)
  const series = chartSeries(stages)
  let chart: string | undefined
  if (series.length > 0) {
    const svg = latencyChart(`Send-to-deliver latency, ${startedAt.toISOString().slice(0, 10)}, ${machine.cores} cores, ${settings.pairs} pairs, ${settings.seconds} s per run`, series)
    chart = join(RESULTS_DIR, `latency-${startedAt.toISOString().replace(/[:.]/g, '-')}.svg`)
    writeFileSync(chart, svg)
    if (process.env.BENCH_WRITE_DOCS === '1') {
      mkdirSync(dirname(DOCS_CHART), { recursive: true })
      writeFileSync(DOCS_CHART, svg)
    }
  }

  process.stdout.write(`\nMachine: ${machine.cores} cores, ${machine.cpuModel}, ${machine.memoryGiB} GiB; Node ${machine.node}; ${machine.postgres}\n`)
  process.stdout.write(`Load average at start ${machine.loadAverageAtStart.join(' ')}, at end ${report.machine.loadAverageAtEnd.join(' ')}; ${settings.seconds} s per measured run\n\n`)
  for (const [stage, summaries] of Object.entries(profiles)) {
    for (const summary of summaries) process.stdout.write(`${renderProfile(stage, summary)}\n\n`)
  }
  process.stdout.write(`${renderTable(stages)}\n\nResults: ${file}\n${chart === undefined ? '' : `Latency chart: ${chart}${process.env.BENCH_WRITE_DOCS === '1' ? ` (and ${DOCS_CHART})` : ''}\n`}`)
}

function redact (url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return '(unparsable)'
  }
}

try {
  await main()
  if (!aborting) {
    await cleanup()
    process.exit(0)
  }
} catch (err) {
  await abort((err as Error)?.stack ?? String(err), 1)
}
