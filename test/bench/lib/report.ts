// Turns the stages' results into the figures table, the ratios and the targets (met or not).
import type { DeliveryResult } from '../stages/delivery.ts'
import type { PhaseResult } from '../stages/delivery-load.ts'
import type { ChartSeries } from './chart.ts'
import { EMBEDDED_OPEN_RATE, type EmbeddedResult } from '../stages/embedded.ts'
import type { HelloResult } from '../stages/hello.ts'
import type { HistoryResult } from '../stages/history.ts'
import type { IdleResult } from '../stages/idle.ts'
import type { PostgresResult } from '../stages/postgres.ts'
import type { ReceiptsResult } from '../stages/receipts.ts'
import type { SearchResult } from '../stages/search.ts'
import type { UploadRun, UploadsResult } from '../stages/uploads.ts'

export type Failed = { error: string }
export interface StageResults {
  H?: HelloResult | Failed
  P?: PostgresResult | Failed
  D?: DeliveryResult | Failed
  D2?: DeliveryResult | Failed
  D2N?: DeliveryResult | Failed
  R?: ReceiptsResult | Failed
  E?: EmbeddedResult | Failed
  C?: IdleResult | Failed
  Q?: HistoryResult | Failed
  S?: SearchResult | Failed
  U?: UploadsResult | Failed
}

export interface Target {
  name: string
  value: number | undefined
  goal: string
  /** undefined: not measured (stage skipped or failed). */
  met: boolean | undefined
}

function ok<T> (result: T | Failed | undefined): T | undefined {
  return result === undefined || (result as Failed).error !== undefined ? undefined : result as T
}

const int = (n: number | undefined) => n === undefined || !Number.isFinite(n) ? '-' : Math.round(n).toLocaleString('en-US')
const ms = (n: number | undefined) => n === undefined || !Number.isFinite(n) ? '-' : `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`
const mib = (n: number | undefined) => n === undefined || !Number.isFinite(n) ? '-' : `${Math.round(n / 2 ** 20)} MiB`
const us = (n: number | undefined) => n === undefined || !Number.isFinite(n) ? '-' : `${Math.round(n)} µs`
const ratio = (n: number | undefined) => n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(2)

export function ratios (stages: StageResults) {
  const h = ok(stages.H)
  const p = ok(stages.P)
  const d = ok(stages.D)
  const d2 = ok(stages.D2)
  const div = (a: number | undefined, b: number | undefined) => a === undefined || b === undefined || b === 0 ? undefined : a / b
  return {
    dOverP: div(d?.closed.deliveredPerSec, p?.insertsPerSec),
    dOverH: div(d?.closed.deliveredPerSec, h?.reqPerSec),
    d2OverD: div(d2?.closed.deliveredPerSec, d?.closed.deliveredPerSec),
    /** How many times a 3-character search page costs a history page (newest pages). */
    qOverS: div(ok(stages.Q)?.first.pagesPerSec, ok(stages.S)?.three.first.pagesPerSec)
  }
}

export function targets (stages: StageResults): Target[] {
  const r = ratios(stages)
  const d = ok(stages.D)
  const d2 = ok(stages.D2)
  const d2n = ok(stages.D2N)
  const e = ok(stages.E)
  const c = ok(stages.C)
  const q = ok(stages.Q)
  const atLeast = (value: number | undefined, goal: number) => value === undefined ? undefined : value >= goal
  const atMost = (value: number | undefined, goal: number) => value === undefined ? undefined : value <= goal
  const peakMiB = (x: DeliveryResult | undefined) => x === undefined ? undefined : Math.max(...x.peakRssBytes) / 2 ** 20
  const faults = (x: DeliveryResult | undefined) => x === undefined
    ? undefined
    : x.closed.lost + x.closed.duplicated + (x.open?.lost ?? 0) + (x.open?.duplicated ?? 0) + x.outOfOrder
  const halfLoadP99 = (x: DeliveryResult | undefined) => x?.openAtHalfLoad === true ? x.open?.latencyMs.p99 : undefined
  const closedTail = d === undefined ? undefined : d.closed.latencyMs.p99 / d.closed.latencyMs.p50
  return [
    { name: 'D/P (delivered msgs/s over inserts/s)', value: r.dOverP, goal: '>= 0.6', met: atLeast(r.dOverP, 0.6) },
    { name: 'D/H (delivered msgs/s over hello req/s)', value: r.dOverH, goal: '>= 0.10', met: atLeast(r.dOverH, 0.1) },
    { name: 'D2/D (two instances over one)', value: r.d2OverD, goal: '>= 0.8', met: atLeast(r.d2OverD, 0.8) },
    { name: 'D p99 at half load (ms)', value: halfLoadP99(d), goal: '<= 25', met: atMost(halfLoadP99(d), 25) },
    { name: 'D closed loop p99 over its p50', value: closedTail, goal: '<= 2', met: atMost(closedTail, 2) },
    { name: 'D2 p99 at half load (ms)', value: halfLoadP99(d2), goal: '<= 50', met: atMost(halfLoadP99(d2), 50) },
    { name: 'D server CPU per delivered msg (µs)', value: d?.closed.serverCpuPerMessageUs, goal: '<= 90', met: atMost(d?.closed.serverCpuPerMessageUs, 90) },
    { name: 'D server peak RSS (MiB)', value: peakMiB(d), goal: '<= 200', met: atMost(peakMiB(d), 200) },
    { name: 'D lost + duplicated + out of order', value: faults(d), goal: '= 0', met: faults(d) === undefined ? undefined : faults(d) === 0 },
    { name: 'D2 lost + duplicated + out of order', value: faults(d2), goal: '= 0', met: faults(d2) === undefined ? undefined : faults(d2) === 0 },
    { name: 'D2N lost + duplicated + out of order', value: faults(d2n), goal: '= 0', met: faults(d2n) === undefined ? undefined : faults(d2n) === 0 },
    { name: 'D2 server CPU per delivered msg (µs, A + B)', value: d2?.closed.serverCpuPerMessageUs, goal: '<= 90', met: atMost(d2?.closed.serverCpuPerMessageUs, 90) },
    { name: 'E delivered msgs/s (embedded)', value: e?.closed.deliveredPerSec, goal: '>= 1,000', met: atLeast(e?.closed.deliveredPerSec, 1000) },
    { name: `E p99 at ${EMBEDDED_OPEN_RATE} msgs/s (ms)`, value: e?.open?.latencyMs.p99, goal: '<= 25', met: atMost(e?.open?.latencyMs.p99, 25) },
    { name: 'E idle RSS (MiB)', value: e === undefined ? undefined : e.idleRssBytes / 2 ** 20, goal: '<= 300', met: atMost(e === undefined ? undefined : e.idleRssBytes / 2 ** 20, 300) },
    { name: 'E peak RSS (MiB)', value: peakMiB(e), goal: '<= 500', met: atMost(peakMiB(e), 500) },
    { name: 'E lost + duplicated + out of order', value: faults(e), goal: '= 0', met: faults(e) === undefined ? undefined : faults(e) === 0 },
    { name: 'C idle streams per GiB', value: c?.streamsPerGiB, goal: '>= 50,000', met: atLeast(c?.streamsPerGiB, 50_000) },
    { name: 'Q first page vs deep page (faster/slower)', value: q?.spread, goal: '<= 2', met: atMost(q?.spread, 2) },
    { name: 'Q/S (history page over 3-char search page)', value: r.qOverS, goal: '<= 3', met: atMost(r.qOverS, 3) }
  ]
}

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: string[]) => cells.map((cell, i) => i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)).join('  ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

function deliveryRows (label: string, result: DeliveryResult | Failed | undefined): string[][] {
  if (result === undefined) return []
  const d = ok(result)
  if (d === undefined) return [[`${label}`, 'failed', (result as Failed).error.split('\n')[0]!.slice(0, 100)]]
  const via = d.mode === 'profile' ? ' [PATCH /users/me: no message route]' : ''
  const setup = `${d.pairs} pairs, window ${d.closed.window}${d.instances === 2 ? `, send on A, streams on B, ${d.bus} bus` : ''}${via}`
  const rows = [
    [`${label}  delivered msgs/s (closed loop)`, int(d.closed.deliveredPerSec), setup],
    [`${label}  latency p50 / p95 / p99`, ms(d.closed.latencyMs.p99), `${ms(d.closed.latencyMs.p50)} / ${ms(d.closed.latencyMs.p95)} / ${ms(d.closed.latencyMs.p99)}, max ${ms(d.closed.latencyMs.max)}`],
    [`${label}  lost / duplicated / errors`, `${d.closed.lost} / ${d.closed.duplicated} / ${d.closed.errors}`, `of ${int(d.closed.sent)} sent${d.closed.firstError === undefined ? '' : `; first error: ${d.closed.firstError}`}`]
  ]
  if (d.open !== undefined) {
    const o = d.open
    rows.push(
      [`${label}  open loop: p99`, ms(o.latencyMs.p99), `${int(o.targetRate)} msgs/s scheduled, ${int(o.deliveredPerSec)} delivered/s; p50 ${ms(o.latencyMs.p50)}, p95 ${ms(o.latencyMs.p95)}, max ${ms(o.latencyMs.max)}${o.overloaded ? ' (OVERLOADED: stopped early)' : ''}`],
      [`${label}  open loop lost / duplicated / errors`, `${o.lost} / ${o.duplicated} / ${o.errors}`, `of ${int(o.sent)} sent`]
    )
  }
  rows.push([`${label}  CPU (cores)`, d.serverCores.map((c) => c.toFixed(2)).join(' + '), `server${d.instances === 2 ? 's A + B' : ''}; load generator ${d.loadGeneratorCores.toFixed(2)}; out-of-order ids ${d.outOfOrder}`])
  const cpuSplit = (phase: { serverCpuMs: number[], measuredMs: number }) => phase.serverCpuMs.map((cpu) => (cpu / phase.measuredMs).toFixed(2)).join(' + ')
  rows.push(
    [`${label}  server CPU per delivered msg`, us(d.closed.serverCpuPerMessageUs), `closed loop, ${cpuSplit(d.closed)} cores in the measured interval${d.open === undefined ? '' : `; open loop ${us(d.open.serverCpuPerMessageUs)} (${cpuSplit(d.open)} cores)`}`],
    [`${label}  server peak RSS under load`, d.peakRssBytes.map(mib).join(' + '), `VmRSS sampled every 100 ms during the load${d.instances === 2 ? ' (A + B)' : ''}; VmHWM since start ${d.hwmBytes.map(mib).join(' + ')}`]
  )
  return rows
}

/** The series of the latency chart: D closed loop, D at half load, D2 (and E when it ran). */
export function chartSeries (stages: StageResults): ChartSeries[] {
  const series: ChartSeries[] = []
  const add = (label: string, phase: PhaseResult | undefined) => {
    if (phase?.latencyHistogram !== undefined) series.push({ label, histogram: phase.latencyHistogram, p50: phase.latencyMs.p50, p99: phase.latencyMs.p99 })
  }
  const d = ok(stages.D)
  const d2 = ok(stages.D2)
  const e = ok(stages.E)
  add(`D closed loop (${int(d?.closed.deliveredPerSec)} msgs/s)`, d?.closed)
  add(`D ${d?.openAtHalfLoad === false ? 'open loop' : 'half load'} (${int(d?.open?.targetRate)} msgs/s)`, d?.open)
  add(`D2 closed loop (${int(d2?.closed.deliveredPerSec)} msgs/s)`, d2?.closed)
  add(`E embedded, ${EMBEDDED_OPEN_RATE} msgs/s`, e?.open)
  return series
}

export function renderTable (stages: StageResults): string {
  const rows: string[][] = []
  const failed = (label: string, result: unknown) => rows.push([label, 'failed', (result as Failed).error.split('\n')[0]!.slice(0, 100)])
  if (stages.H !== undefined) {
    const h = ok(stages.H)
    if (h === undefined) failed('H  hello world req/s', stages.H)
    else rows.push(['H  hello world req/s', int(h.reqPerSec), `${h.connections} connections, pipelining ${h.pipelining}, p99 ${ms(h.latencyP99Ms)}`])
  }
  if (stages.P !== undefined) {
    const p = ok(stages.P)
    if (p === undefined) failed('P  inserts/s', stages.P)
    else rows.push(['P  inserts/s', int(p.insertsPerSec), `${p.connections} connections, one row per transaction, p50 ${ms(p.latencyP50Ms)}, p99 ${ms(p.latencyP99Ms)}`])
  }
  rows.push(...deliveryRows('D ', stages.D), ...deliveryRows('D2', stages.D2), ...deliveryRows('D2N', stages.D2N), ...deliveryRows('E ', stages.E))
  if (stages.R !== undefined) {
    const r = ok(stages.R)
    if (r === undefined) failed('R  read receipts commits/s', stages.R)
    else {
      for (const run of [r.postgres, r.nats]) {
        rows.push([`R  receipts commits/s, ${run.bus} bus`, int(run.commitsPerSec), `${r.pairs} readers on A + B, p50 ${ms(run.latencyP50Ms)}, p99 ${ms(run.latencyP99Ms)}, errors ${run.errors}${run.firstError === undefined ? '' : ` (${run.firstError.slice(0, 60)})`}; CPU ${run.serverCores.map((c) => c.toFixed(2)).join(' + ')}`])
      }
      rows.push(['R  NATS over PostgreSQL bus', ratio(r.natsOverPostgres), ''])
      for (const run of [r.writer.postgres, r.writer.nats]) {
        rows.push([`R  in-process commits/s, ${run.bus} bus`, int(run.commitsPerSec), `${r.pairs} readers, no HTTP, p50 ${ms(run.latencyP50Ms)}, p99 ${ms(run.latencyP99Ms)}, errors ${run.errors}${run.firstError === undefined ? '' : ` (${run.firstError.slice(0, 60)})`}; CPU ${run.cores.toFixed(2)}, streams' server ${run.streamServerCores.toFixed(2)}`])
      }
      rows.push(['R  in-process NATS over PostgreSQL bus', ratio(r.writer.natsOverPostgres), ''])
    }
  }
  const e = ok(stages.E)
  if (e !== undefined) rows.push(['E   idle RSS (fresh server)', mib(e.idleRssBytes), 'VmRSS of the embedded server listening, before any user or load'])
  if (stages.C !== undefined) {
    const c = ok(stages.C)
    if (c === undefined) failed('C  idle streams', stages.C)
    else {
      rows.push(
        ['C  idle streams held', int(c.opened), `target ${int(c.target)} (${c.limitedBy}), opened in ${c.openSeconds.toFixed(1)} s${c.failed > 0 ? `, ${c.failed} failed: ${c.firstError}` : ''}`],
        ['C  server RSS per stream', `${(c.rssPerStreamBytes / 1024).toFixed(1)} KiB`, `${int(c.rssBeforeBytes / 2 ** 20)} MiB -> ${int(c.rssAfterBytes / 2 ** 20)} MiB`],
        ['C  streams per GiB', int(c.streamsPerGiB), ''],
        ['C  heartbeat CPU per interval', ms(c.cpuPerIntervalMs), `every ${c.heartbeatMs} ms (${ms(c.cpuPerIntervalIdleMs)} with no stream): ${(c.heartbeatCoreShare * 100).toFixed(1)}% of a core; ${int(c.streamsPinged)} streams pinged, ${c.streamsClosedByServer} closed`]
      )
    }
  }
  if (stages.Q !== undefined) {
    const q = ok(stages.Q)
    if (q === undefined) failed('Q  history pages/s', stages.Q)
    else {
      rows.push(
        ['Q  first page pages/s', int(q.first.pagesPerSec), `${int(q.rows)} messages in the conversation, ${q.connections} connections, p99 ${ms(q.first.latencyP99Ms)}`],
        ['Q  deep page pages/s', int(q.deep.pagesPerSec), `before a message ${int(q.deep.depth)} back, p99 ${ms(q.deep.latencyP99Ms)}`]
      )
    }
  }
  if (stages.S !== undefined) {
    const s = ok(stages.S)
    if (s === undefined) failed('S  search pages/s', stages.S)
    else {
      for (const run of [s.three, s.one]) {
        rows.push(
          [`S  "${run.query}" first page pages/s`, int(run.first.pagesPerSec), `${int(s.rows)} messages, ${s.pageSize} a page, ${s.connections} connections, p99 ${ms(run.first.latencyP99Ms)}`],
          [`S  "${run.query}" deep page pages/s`, int(run.deep.pagesPerSec), `before a message ${int(s.depth)} back, p99 ${ms(run.deep.latencyP99Ms)}`]
        )
      }
      for (const run of s.all) {
        rows.push([`S  "${run.query}" all conversations pages/s`, int(run.first.pagesPerSec), `newest page of a search without peerId, p99 ${ms(run.first.latencyP99Ms)}`])
      }
    }
  }
  if (stages.U !== undefined) {
    const u = ok(stages.U)
    const mib = (n: number) => `${int(n / 2 ** 20)} MiB`
    const notes = (run: UploadRun) => `${run.concurrency} in flight, ${int(run.uploads)} uploads, p50 ${ms(run.latencyP50Ms)}, p99 ${ms(run.latencyP99Ms)}; server RSS ${mib(run.rssBeforeBytes)} -> peak ${mib(run.rssPeakBytes)}${run.errors > 0 ? `; ${run.errors} errors, first: ${run.firstError}` : ''}`
    if (u === undefined) failed('U  uploads', stages.U)
    else {
      rows.push(
        ['U  1 MiB files MiB/s', u.file1MiB.mibPerSec.toFixed(1), notes(u.file1MiB)],
        ['U  10 MiB files MiB/s', u.file10MiB.mibPerSec.toFixed(1), notes(u.file10MiB)],
        ['U  12 MP JPEG images/s', u.image12MP.uploadsPerSec.toFixed(2), `${(u.image12MP.bytes / 2 ** 20).toFixed(1)} MiB each, re-encoded + WebP thumbnail; ${notes(u.image12MP)}`]
      )
    }
  }
  const targetRows = targets(stages).map((t) => [
    t.name,
    t.value === undefined ? '-' : Number.isInteger(t.value) ? int(t.value) : ratio(t.value),
    t.goal,
    t.met === undefined ? 'not measured' : t.met ? 'met' : 'NOT MET'
  ])
  return `${table(['figure', 'value', 'notes'], rows)}\n\n${table(['target', 'value', 'goal', 'status'], targetRows)}`
}
