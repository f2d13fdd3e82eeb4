// The benchmark's knobs, read once from the environment.
function int (name: string, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name} must be a number between ${min} and ${max}, got "${raw}"`)
  return Math.floor(value)
}

export const ALL_STAGES = ['H', 'P', 'D', 'D2', 'D2N', 'R', 'E', 'C', 'Q', 'S', 'U'] as const
export type StageName = typeof ALL_STAGES[number]

export interface Settings {
  databaseUrl: string
  /** Duration of each measured run, in seconds. */
  seconds: number
  stages: StageName[]
  /** Sender/receiver pairs for D and D2. */
  pairs: number
  /** The NATS server of D2N and R's second run. */
  busUrl: string
  /** R: sender/reader pairs, each reader marking messages read one by one. */
  receiptPairs: number
  /** HTTP connections of autocannon (H, Q) and of the D load generator's pool per server. */
  connections: number
  /** HTTP pipelining factor of the H stage (Fastify's own benchmarks use 10). */
  pipelining: number
  /** D: messages in flight (sent, not yet delivered) across all pairs in the closed-loop run. */
  window: number
  /** D, D2, D2N: the open loop at this fixed rate (msgs/s) instead of half the closed loop's (BENCH_OPEN_RATE). */
  openRate: number | undefined
  /** C: most idle streams to open. */
  idleStreams: number
  /** C: longest time spent opening streams, in seconds. */
  idleOpenSeconds: number
  /** C: SSE_HEARTBEAT_MS of the server under test. */
  heartbeatMs: number
  /** Q: messages in the seeded conversation. */
  historyRows: number
  /** BENCH_CPU_PROF=1: servers run with --cpu-prof and each stage's profiles are summarized. */
  cpuProfile: boolean
  /** Extra node flags for servers under test (e.g. --cpu-prof). */
  serverNodeArgs: string[]
  /** Whole-run deadline, in seconds: past it the run is aborted and cleaned up. */
  deadlineSeconds: number
}

export function loadSettings (): Settings {
  const seconds = int('BENCH_SECONDS', 10, 1, 3600)
  const stagesRaw = process.env.BENCH_STAGES?.trim()
  const stages = stagesRaw === undefined || stagesRaw === ''
    ? [...ALL_STAGES]
    : stagesRaw.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean)
  for (const stage of stages) {
    if (!(ALL_STAGES as readonly string[]).includes(stage)) throw new Error(`BENCH_STAGES: unknown stage "${stage}" (known: ${ALL_STAGES.join(',')})`)
  }
  const pairs = int('BENCH_PAIRS', 32, 1, 5000)
  const cpuProf = process.env.BENCH_CPU_PROF === '1'
  const extra = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)
  return {
    databaseUrl: process.env.DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/test',
    seconds,
    stages: stages as StageName[],
    pairs,
    busUrl: process.env.BENCH_BUS_URL?.trim() || 'nats://127.0.0.1:4222',
    receiptPairs: int('BENCH_RECEIPT_PAIRS', 32, 1, 5000),
    connections: int('BENCH_CONNECTIONS', 100, 1, 10000),
    pipelining: int('BENCH_PIPELINING', 10, 1, 100),
    window: int('BENCH_WINDOW', Math.max(pairs * 4, 64), 1, 100000),
    openRate: process.env.BENCH_OPEN_RATE?.trim() ? int('BENCH_OPEN_RATE', 0, 1, 1_000_000) : undefined,
    idleStreams: int('BENCH_IDLE_STREAMS', 20000, 1, 1000000),
    idleOpenSeconds: int('BENCH_IDLE_OPEN_SECONDS', Math.max(90, seconds * 6), 1, 3600),
    heartbeatMs: int('BENCH_HEARTBEAT_MS', 2000, 100, 60000),
    historyRows: int('BENCH_HISTORY_ROWS', 1_000_000, 1000, 100_000_000),
    cpuProfile: cpuProf,
    serverNodeArgs: cpuProf ? ['--cpu-prof', '--cpu-prof-dir=test/bench/results/profiles', ...extra] : extra,
    deadlineSeconds: int('BENCH_DEADLINE_SECONDS', 600 + seconds * 20, 60)
  }
}
