// D's load generator, a process of its own (started by delivery.ts over IPC) so its CPU is not the runner's.
// Receivers hold real SSE streams; senders POST text messages. Each message's content carries its number
// (`bx:<n>`), which is all the receiver looks for in a frame: no JSON parsing on the hot path. Times are
// this process's monotonic clock: sent (or, open loop, scheduled) to read from the receiver's stream.
import http from 'node:http'
import { Pool } from 'undici'
import { percentile } from '../lib/measure.ts'
import { readCpuMs } from '../lib/processes.ts'

export interface LoadPair {
  senderToken: string
  receiverId: string
  receiverToken: string
}

export interface LoadSpec {
  /** Where senders POST. */
  sendUrl: string
  /** Where receivers hold their streams. */
  streamUrl: string
  pairs: LoadPair[]
  /** 'message': POST /conversations/{peer}/messages. 'profile': PATCH /users/me (sender = receiver), for
   *  exercising the harness before the message route exists. */
  mode: 'message' | 'profile'
  connections: number
  /** Closed loop: messages in flight (sent, not yet delivered) over all pairs. */
  window: number
  seconds: number
  warmupSeconds: number
  /** Open loop at this fraction of the closed loop's delivered rate (0 skips it). */
  openFraction: number
  /** Open loop at this fixed rate in msgs/s instead (E: 100 msgs/s). */
  openRate?: number
  /** The servers under test, whose CPU time is read at the start and end of each measured interval. */
  serverPids: number[]
  drainMs: number
}

export interface PhaseResult {
  /** Messages whose POST was answered 201/200 in this phase. */
  sent: number
  delivered: number
  /** Delivered messages per second in the measured interval. */
  deliveredPerSec: number
  lost: number
  duplicated: number
  /** POSTs answered with an error status or failed. */
  errors: number
  firstError?: string
  /** POSTs still unanswered after the drain. */
  unanswered: number
  latencyMs: { p50: number, p95: number, p99: number, max: number, samples: number }
  /** The latencies as a histogram of log-spaced buckets (the chart's CDF is drawn from it). */
  latencyHistogram: LatencyHistogram
  /** CPU each server used during the measured interval, in ms, and the interval's length. */
  serverCpuMs: number[]
  measuredMs: number
  /** All servers' CPU time per message delivered in the measured interval, in µs. */
  serverCpuPerMessageUs: number
}

/** counts[i]: latencies in [fromMs * 10^(i / perDecade), fromMs * 10^((i + 1) / perDecade)); the first bucket also holds all below. */
export interface LatencyHistogram {
  fromMs: number
  perDecade: number
  counts: number[]
}

export interface LoadResult {
  streams: number
  closed: PhaseResult & { window: number }
  open?: PhaseResult & { targetRate: number, scheduled: number, overloaded: boolean }
  unknownFrames: number
  streamsEnded: number
  outOfOrder: number
  /** CPU this process used while running, in cores. */
  loadGeneratorCores: number
}

const CAPACITY = 4_000_000
const MARKER = 'bx:'
const OPEN_MAX_OUTSTANDING = 200_000

const sendTime = new Float64Array(CAPACITY)
const pairOf = new Int32Array(CAPACITY)
/** bit 1: POST answered OK; bit 2: delivered; bit 4: POST failed. */
const state = new Uint8Array(CAPACITY)
const deliveries = new Uint8Array(CAPACITY)
let next = 0
let unknownFrames = 0
let streamsEnded = 0
/** Durable event ids that did not increase on their stream (must stay 0). */
let outOfOrder = 0

interface Phase {
  from: number
  to: number
  measureFrom: number
  measureTo: number
  counted: number
  /** Messages of the phase delivered (first time) or failed, at any time. */
  finished: number
  latencies: number[]
  duplicated: number
  errors: number
  firstError?: string
  closedLoop: boolean
  running: boolean
  /** Server CPU (ms) and this process's clock when the measured interval started and ended. */
  cpuFrom?: { at: number, cpu: number[] }
  cpuTo?: { at: number, cpu: number[] }
}

let phase: Phase | undefined

const HISTOGRAM_FROM_MS = 0.1
const HISTOGRAM_PER_DECADE = 20

function histogram (sorted: number[]): LatencyHistogram {
  const counts: number[] = []
  for (const ms of sorted) {
    const bucket = Math.max(0, Math.floor(Math.log10(ms / HISTOGRAM_FROM_MS) * HISTOGRAM_PER_DECADE))
    while (counts.length <= bucket) counts.push(0)
    counts[bucket]!++
  }
  return { fromMs: HISTOGRAM_FROM_MS, perDecade: HISTOGRAM_PER_DECADE, counts }
}

function readServerCpu (): { at: number, cpu: number[] } {
  return { at: performance.now(), cpu: spec.serverPids.map(readCpuMs) }
}

/** Reads the servers' CPU time when the phase's measured interval starts and when it ends. */
function watchCpu (p: Phase): void {
  setTimeout(() => { p.cpuFrom = readServerCpu() }, Math.max(0, p.measureFrom - performance.now()))
  setTimeout(() => { p.cpuTo = readServerCpu() }, Math.max(0, p.measureTo - performance.now()))
}

async function openStreams (spec: LoadSpec): Promise<http.ClientRequest[]> {
  const url = new URL('/events', spec.streamUrl)
  const tokens = spec.mode === 'profile' ? spec.pairs.map((p) => p.senderToken) : spec.pairs.map((p) => p.receiverToken)
  return Promise.all(tokens.map((token) => new Promise<http.ClientRequest>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('stream not ready within 30 s')), 30_000)
    const request = http.get(url, { agent: false, headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } }, (response) => {
      if (response.statusCode !== 200) {
        clearTimeout(timer)
        reject(new Error(`GET /events answered ${response.statusCode}`))
        response.resume()
        return
      }
      let ready = false
      let carry = ''
      let lastId = -1
      response.on('data', (chunk: Buffer) => {
        // Only whole frames are scanned; the rest waits for the next chunk.
        const text = carry + chunk.toString('latin1')
        const end = text.lastIndexOf('\n\n')
        if (end < 0) {
          carry = text
          return
        }
        carry = text.slice(end + 2)
        if (!ready) {
          if (!text.includes('event: ready')) return
          ready = true
          clearTimeout(timer)
          resolve(request)
        }
        // Each frame that starts with `id: ` (all durable events do) must carry a larger id than the last.
        let line = text.startsWith('id: ') ? 0 : text.indexOf('\nid: ')
        while (line >= 0 && line < end) {
          const from = text.charCodeAt(line) === 10 ? line + 5 : line + 4
          let id = 0
          for (let i = from; i < text.length; i++) {
            const c = text.charCodeAt(i) - 48
            if (c < 0 || c > 9) break
            id = id * 10 + c
          }
          if (id <= lastId) outOfOrder++
          lastId = id
          line = text.indexOf('\nid: ', from)
        }
        let at = text.indexOf(MARKER)
        while (at >= 0 && at < end) {
          let k = 0
          let i = at + MARKER.length
          let digits = 0
          for (; i < text.length; i++) {
            const c = text.charCodeAt(i) - 48
            if (c < 0 || c > 9) break
            k = k * 10 + c
            digits++
          }
          if (digits > 0) onDelivered(k)
          at = text.indexOf(MARKER, i)
        }
      })
      response.on('close', () => { streamsEnded++ })
    })
    request.on('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
  })))
}

function onDelivered (k: number): void {
  const now = performance.now()
  if (k >= next) {
    unknownFrames++
    return
  }
  const p = phase
  if (deliveries[k]! > 0) {
    deliveries[k] = Math.min(255, deliveries[k]! + 1)
    if (p !== undefined && k >= p.from) p.duplicated++
    return
  }
  deliveries[k] = 1
  state[k]! |= 2
  if (p === undefined || k < p.from) return
  p.finished++
  if (now >= p.measureFrom && now <= p.measureTo) p.counted++
  // Latency of every message sent (or due) in the measured interval, however late it arrives.
  if (sendTime[k]! >= p.measureFrom && sendTime[k]! <= p.measureTo) p.latencies.push(now - sendTime[k]!)
  if (p.closedLoop && (state[k]! & 3) === 3) sendClosed(pairOf[k]!)
}

let pool: Pool
let spec: LoadSpec
let bodies: { path: string, headers: Record<string, string> }[]

function post (k: number, pair: number): void {
  const target = bodies[pair]!
  const content = `${MARKER}${k}`
  const body = spec.mode === 'profile' ? `{"avatarUrl":"https://bench.example.com/${content}"}` : `{"content":"${content}"}`
  pool.request({ method: spec.mode === 'profile' ? 'PATCH' : 'POST', path: target.path, headers: target.headers, body })
    .then(async (response) => {
      await response.body.dump()
      if (response.statusCode === 201 || response.statusCode === 200) answered(k, true)
      else answered(k, false, `HTTP ${response.statusCode}`)
    }, (err: Error) => answered(k, false, err.message))
}

function answered (k: number, ok: boolean, error?: string): void {
  const p = phase
  if (ok) {
    state[k]! |= 1
    if (p?.closedLoop === true && k >= p.from && (state[k]! & 3) === 3) sendClosed(pairOf[k]!)
    return
  }
  state[k]! |= 4
  if (p === undefined || k < p.from) return
  p.errors++
  p.finished++
  p.firstError ??= error
  // Keep the window full, but do not spin on a failing server.
  if (p.closedLoop) setTimeout(() => sendClosed(pairOf[k]!), 10)
}

function sendClosed (pair: number): void {
  const p = phase
  if (p === undefined || !p.running || next >= CAPACITY) return
  if (performance.now() >= p.measureTo) {
    p.running = false
    return
  }
  const k = next++
  pairOf[k] = pair
  sendTime[k] = performance.now()
  post(k, pair)
}

function newPhase (closedLoop: boolean, seconds: number, warmup: number): Phase {
  const now = performance.now()
  return {
    from: next,
    to: next,
    measureFrom: now + warmup * 1000,
    measureTo: now + (warmup + seconds) * 1000,
    counted: 0,
    finished: 0,
    latencies: [],
    duplicated: 0,
    errors: 0,
    closedLoop,
    running: true
  }
}

/** Waits until every answered-OK message of the phase is delivered and every POST answered, or the drain time ends. */
async function drain (p: Phase, ms: number): Promise<void> {
  const deadline = performance.now() + ms
  let scanFrom = p.from
  while (performance.now() < deadline) {
    while (scanFrom < p.to && (state[scanFrom]! & 4 || (state[scanFrom]! & 3) === 3)) scanFrom++
    if (scanFrom >= p.to) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function summarize (p: Phase, seconds: number): PhaseResult {
  let sent = 0
  let delivered = 0
  let lost = 0
  let unanswered = 0
  for (let k = p.from; k < p.to; k++) {
    const s = state[k]!
    if (s & 1) sent++
    if (s & 2) delivered++
    if ((s & 1) && !(s & 2)) lost++
    if (!(s & 1) && !(s & 4)) unanswered++
  }
  const sorted = p.latencies.sort((a, b) => a - b)
  const from = p.cpuFrom
  const to = p.cpuTo ?? readServerCpu()
  const serverCpuMs = from === undefined ? spec.serverPids.map(() => NaN) : to.cpu.map((cpu, i) => cpu - from.cpu[i]!)
  const measuredMs = from === undefined ? NaN : to.at - from.at
  // CPU per second of the interval over deliveries per second of it: a late timer cancels out.
  const cpuPerSecond = serverCpuMs.reduce((a, b) => a + b, 0) / measuredMs
  return {
    sent,
    delivered,
    deliveredPerSec: p.counted / seconds,
    lost,
    duplicated: p.duplicated,
    errors: p.errors,
    ...(p.firstError === undefined ? {} : { firstError: p.firstError }),
    unanswered,
    latencyMs: { p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99), max: sorted[sorted.length - 1] ?? NaN, samples: sorted.length },
    latencyHistogram: histogram(sorted),
    serverCpuMs,
    measuredMs,
    serverCpuPerMessageUs: cpuPerSecond * 1000 * 1000 / (p.counted / seconds)
  }
}

async function runClosed (): Promise<LoadResult['closed']> {
  const perPair = Math.max(1, Math.floor(spec.window / spec.pairs.length))
  const p = newPhase(true, spec.seconds, spec.warmupSeconds)
  phase = p
  watchCpu(p)
  for (let slot = 0; slot < perPair; slot++) {
    for (let pair = 0; pair < spec.pairs.length; pair++) sendClosed(pair)
  }
  await new Promise((resolve) => setTimeout(resolve, p.measureTo - performance.now() + 1))
  p.running = false
  p.to = next
  await drain(p, spec.drainMs)
  return { ...summarize(p, spec.seconds), window: perPair * spec.pairs.length }
}

async function runOpen (rate: number): Promise<NonNullable<LoadResult['open']>> {
  const p = newPhase(false, spec.seconds, spec.warmupSeconds)
  phase = p
  watchCpu(p)
  const start = performance.now()
  const total = Math.min(CAPACITY - next, Math.floor(rate * (spec.seconds + spec.warmupSeconds)))
  const interval = 1000 / rate
  let n = 0
  let overloaded = false
  let pair = 0
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now()
      // Every message whose time has come is sent now, stamped with the time it was due (no coordinated omission).
      while (n < total && start + n * interval <= now) {
        const k = next++
        pairOf[k] = pair
        sendTime[k] = start + n * interval
        post(k, pair)
        pair = (pair + 1) % spec.pairs.length
        n++
      }
      if (n >= total) return resolve()
      if (n - p.finished > OPEN_MAX_OUTSTANDING) {
        overloaded = true
        return resolve()
      }
      setTimeout(tick, 1)
    }
    tick()
  })
  p.to = next
  await drain(p, spec.drainMs)
  return { ...summarize(p, spec.seconds), targetRate: rate, scheduled: n, overloaded }
}

async function run (input: LoadSpec): Promise<LoadResult> {
  spec = input
  const cpuStart = process.cpuUsage()
  const wallStart = performance.now()
  pool = new Pool(spec.sendUrl, { connections: spec.connections, pipelining: 1, keepAliveTimeout: 60_000 })
  bodies = spec.pairs.map((pair) => ({
    path: spec.mode === 'profile' ? '/users/me' : `/conversations/${pair.receiverId}/messages`,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${pair.senderToken}` }
  }))
  const streams = await openStreams(spec)
  try {
    const closed = await runClosed()
    let open: LoadResult['open']
    const openRate = spec.openRate ?? closed.deliveredPerSec * spec.openFraction
    if (openRate > 0) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      open = await runOpen(openRate)
    }
    const cpu = process.cpuUsage(cpuStart)
    const loadGeneratorCores = (cpu.user + cpu.system) / 1000 / (performance.now() - wallStart)
    return { streams: streams.length, closed, ...(open === undefined ? {} : { open }), unknownFrames, streamsEnded, outOfOrder, loadGeneratorCores }
  } finally {
    for (const stream of streams) stream.destroy()
    await pool.close().catch(() => {})
  }
}

process.on('message', (message: { run: LoadSpec }) => {
  run(message.run).then(
    (result) => process.send!({ result }, () => process.exit(0)),
    (err: Error) => process.send!({ error: err.stack ?? String(err) }, () => process.exit(1))
  )
})
