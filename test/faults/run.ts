// npm run test:faults: two instances on a throwaway PostgreSQL cluster under a steady load, with database and
// process faults injected in turn; checks that no acknowledged message is lost, repeated or reordered (on the
// receiver's and sender's streams and in history), that nothing answers 500, and that no instance exits
// except those the suite kills. Prints a table and a closing line; exits non-zero on failure.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Proxy } from '../helpers/tcp-proxy.ts'
import { freePort } from '../helpers/ports.ts'
import { Cluster } from './cluster.ts'
import { Instance } from './instance.ts'
import { type Ack, addContact, type Endpoint, history, type Outcome, register, Sender, StreamReader, type User } from './load.ts'

const SUITE_DEADLINE_MS = 5 * 60_000
const PAIRS = Number(process.env.FAULTS_PAIRS ?? 8)
const SEND_INTERVAL_MS = Number(process.env.FAULTS_SEND_INTERVAL_MS ?? 150)
const SETTLE_MS = 3000
const GRACE_MS = 10_000

interface Fault {
  name: string
  inject: () => Promise<void>
}

interface Window {
  name: string
  start: number
  end: number
  recoveryMs: number | undefined
}

const started = Date.now()
const failures: string[] = []
const cleanups: Array<() => Promise<void> | void> = []
let finished = false

function log (message: string): void {
  process.stdout.write(`[faults ${((Date.now() - started) / 1000).toFixed(1).padStart(5)} s] ${message}\n`)
}

async function cleanup (): Promise<void> {
  for (const step of cleanups.reverse()) {
    try {
      await step()
    } catch (err) {
      log(`cleanup step failed: ${String(err)}`)
    }
  }
  cleanups.length = 0
}

// Every loop below has its own deadline; this one bounds the whole run whatever happens.
const overall = setTimeout(() => {
  if (finished) return
  process.stdout.write(`fault suite: FAILED: not finished within ${SUITE_DEADLINE_MS / 1000} s\n`)
  cleanup().catch(() => {}).finally(() => process.exit(1))
}, SUITE_DEADLINE_MS)

// Interrupted (Ctrl-C, a CI timeout): still stop the instances and remove the cluster.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stdout.write(`fault suite: FAILED: interrupted by ${signal}\n`)
    cleanup().catch(() => {}).finally(() => process.exit(1))
  })
}

/** Polls until every instance answers an authenticated request (the database reached through it); answers when. */
async function waitServing (instances: Instance[], user: User, ms: number): Promise<number | undefined> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
    const answers = await Promise.all(instances.map(async (instance) => {
      try {
        const response = await fetch(`${instance.baseUrl}/users/me`, { headers: { authorization: `Bearer ${user.token}` }, signal: AbortSignal.timeout(3000) })
        await response.arrayBuffer()
        return response.status === 200
      } catch {
        return false
      }
    }))
    if (answers.every(Boolean)) return Date.now()
  }
  return undefined
}

function summarize (outcomes: Outcome[]): string {
  const counts = new Map<string, number>()
  for (const outcome of outcomes) {
    const key = `${outcome.what} ${outcome.status === 0 ? 'network' : outcome.status}`
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }
  return counts.size === 0 ? 'none' : [...counts].sort().map(([key, n]) => `${n} x ${key}`).join(', ')
}

interface Verdict { lost: Set<string>, duplicated: Set<string>, reordered: Set<string> }

/** Compares what a view (a stream, history) shows of one pair with what was acknowledged, in order. */
function check (view: string[], acks: Ack[], verdict: Verdict): void {
  const seqOf = new Map(acks.map((ack) => [ack.id, ack.seq]))
  const seen = new Set<string>()
  let highest = 0
  for (const id of view) {
    const seq = seqOf.get(id)
    if (seq === undefined) continue // not acknowledged (abandoned): it may or may not exist
    if (seen.has(id)) {
      verdict.duplicated.add(id)
      continue
    }
    seen.add(id)
    if (seq < highest) verdict.reordered.add(id)
    highest = Math.max(highest, seq)
  }
  for (const ack of acks) if (!seen.has(ack.id)) verdict.lost.add(ack.id)
}

async function main (): Promise<void> {
  log('creating a throwaway PostgreSQL cluster')
  const cluster = await Cluster.create()
  cleanups.push(() => cluster.destroy())
  await cluster.sql('create database chat')
  const proxy = await Proxy.create(cluster.port)
  cleanups.push(() => proxy.close())
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-faults-data-'))
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }))
  const env = { databaseUrl: `postgres://postgres@127.0.0.1:${proxy.port}/chat`, dataDir, jwtSecret: 'fault-suite-secret-that-is-long-enough-0123' }
  const instances = [new Instance('A', await freePort(), env), new Instance('B', await freePort(), env)]
  cleanups.push(async () => { await Promise.all(instances.map((instance) => instance.stop())) })
  for (const instance of instances) await instance.start()
  log(`instances A (${instances[0]!.baseUrl}) and B (${instances[1]!.baseUrl}) on PostgreSQL ${cluster.port} through a proxy on ${proxy.port}`)
  const endpoints: Endpoint[] = instances.map((instance) => ({ name: instance.name, baseUrl: instance.baseUrl }))

  const pairs: Array<{ from: User, to: User }> = []
  for (let i = 0; i < PAIRS; i++) {
    const from = await register(endpoints[i % 2]!)
    const to = await register(endpoints[(i + 1) % 2]!)
    await addContact(endpoints[i % 2]!, from, to)
    pairs.push({ from, to })
  }
  const probe = pairs[0]!.from

  const outcomes: Outcome[] = []
  const record = (outcome: Outcome) => { outcomes.push(outcome) }
  const readers = new Map<string, StreamReader>()
  pairs.forEach(({ from, to }, i) => {
    readers.set(from.id, new StreamReader(from, endpoints, i % 2, record))
    readers.set(to.id, new StreamReader(to, endpoints, (i + 1) % 2, record))
  })
  await sleep(1500)
  const senders = pairs.map(({ from, to }, i) => new Sender(i, from, to, endpoints, i % 2, SEND_INTERVAL_MS, record))
  log(`load: ${PAIRS} pairs, one send per ${SEND_INTERVAL_MS} ms each, every user on a stream`)

  const expectedExit = async (instance: Instance, signal: NodeJS.Signals) => {
    const before = Date.now()
    const exit = await instance.kill(signal, GRACE_MS + 5000)
    if (signal === 'SIGTERM') {
      const took = Date.now() - before
      if (exit.code !== 0) failures.push(`${instance.name} exited with ${exit.code ?? exit.signal} after SIGTERM (expected 0)`)
      if (took > GRACE_MS) failures.push(`${instance.name} took ${took} ms to stop after SIGTERM (grace ${GRACE_MS} ms)`)
      log(`${instance.name} stopped on SIGTERM in ${took} ms with exit code ${String(exit.code)}`)
    }
    await sleep(300)
    await instance.start()
  }

  const faults: Fault[] = [
    { name: 'steady load (no fault)', inject: async () => {} },
    { name: 'kill -9 of an instance (restarted)', inject: () => expectedExit(instances[1]!, 'SIGKILL') },
    {
      name: 'pg_terminate_backend of every connection (3 rounds)',
      inject: async () => {
        for (let round = 0; round < 3; round++) {
          await cluster.sql("select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'chat-server'")
          if (round < 2) await sleep(1500)
        }
      }
    },
    { name: 'PostgreSQL restart', inject: async () => { cluster.restart() } },
    { name: 'database refusing connections for 2 s', inject: () => proxy.refuse(2000) },
    { name: 'dropped streams', inject: async () => { for (const reader of readers.values()) reader.drop() } },
    { name: 'SIGTERM of an instance (restarted)', inject: () => expectedExit(instances[0]!, 'SIGTERM') }
  ]

  const windows: Window[] = []
  for (const fault of faults) {
    const start = Date.now()
    log(`fault: ${fault.name}`)
    await fault.inject()
    const servingAt = await waitServing(instances, probe, 60_000)
    if (servingAt === undefined) failures.push(`not serving within 60 s after: ${fault.name}`)
    const recoveryMs = servingAt === undefined ? undefined : servingAt - start
    log(`  serving again after ${recoveryMs === undefined ? 'never' : `${recoveryMs} ms`}`)
    await sleep(SETTLE_MS)
    windows.push({ name: fault.name, start, end: Date.now(), recoveryMs })
  }

  log('stopping the load; waiting for every stream to catch up')
  await Promise.all(senders.map((sender) => sender.stop()))
  const acksOf = (pair: number) => senders[pair]!.acks
  const caughtUp = () => pairs.every(({ from, to }, i) => {
    const ids = new Set(acksOf(i).map((ack) => ack.id))
    return [from, to].every((user) => {
      const got = new Set(readers.get(user.id)!.messages)
      for (const id of ids) if (!got.has(id)) return false
      return true
    })
  })
  for (const deadline = Date.now() + 30_000; Date.now() < deadline && !caughtUp(); await sleep(200));
  await Promise.all([...readers.values()].map((reader) => reader.stop()))

  // Attribute each acknowledged message to the window in which it was acknowledged.
  const windowOf = (at: number) => Math.max(0, windows.findIndex((window, i) => at >= window.start && (i === windows.length - 1 || at < windows[i + 1]!.start)))
  const verdicts = windows.map((): Verdict => ({ lost: new Set(), duplicated: new Set(), reordered: new Set() }))
  const all: Verdict = { lost: new Set(), duplicated: new Set(), reordered: new Set() }
  const details: string[] = []
  for (let i = 0; i < pairs.length; i++) {
    const { from, to } = pairs[i]!
    const views: Array<[string, string[]]> = [
      ['receiver stream', readers.get(to.id)!.messages],
      ['sender stream', readers.get(from.id)!.messages],
      ['history', await history(endpoints[0]!, from, to.id)]
    ]
    for (const [label, view] of views) {
      const verdict: Verdict = { lost: new Set(), duplicated: new Set(), reordered: new Set() }
      check(view, acksOf(i), verdict)
      for (const key of ['lost', 'duplicated', 'reordered'] as const) {
        for (const id of verdict[key]) {
          all[key].add(id)
          const ack = acksOf(i).find((candidate) => candidate.id === id)!
          const reader = label === 'history' ? undefined : readers.get(label === 'receiver stream' ? to.id : from.id)!
          details.push(`${key} in ${label}: pair ${i} #${ack.seq} (${id}), acknowledged at ${((ack.at - started) / 1000).toFixed(1)} s` +
            (reader === undefined ? '' : `; that stream: last id ${String(reader.lastId)}, ${reader.messages.length} messages, ${reader.reconnects} reconnects, on ${reader.at}`))
        }
      }
    }
  }
  const ackWindow = new Map<string, number>()
  for (const sender of senders) for (const ack of sender.acks) ackWindow.set(ack.id, windowOf(ack.at))
  for (const key of ['lost', 'duplicated', 'reordered'] as const) {
    for (const id of all[key]) verdicts[ackWindow.get(id) ?? 0]![key].add(id)
  }

  const totalAcks = senders.reduce((n, sender) => n + sender.acks.length, 0)
  const abandoned = senders.reduce((n, sender) => n + sender.abandoned.length, 0)
  const idViolations = [...readers.values()].flatMap((reader) => reader.idViolations)
  const reconnects = [...readers.values()].reduce((n, reader) => n + reader.reconnects, 0)

  const rows = windows.map((window, i) => {
    const seen = outcomes.filter((outcome) => outcome.at >= window.start && (i === windows.length - 1 || outcome.at < windows[i + 1]!.start))
    const acked = senders.reduce((n, sender) => n + sender.acks.filter((ack) => windowOf(ack.at) === i).length, 0)
    const recovery = window.recoveryMs === undefined ? 'never' : `${(window.recoveryMs / 1000).toFixed(1)} s`
    return `| ${window.name} | ${acked} | ${summarize(seen)} | ${recovery} | ${verdicts[i]!.lost.size} | ${verdicts[i]!.duplicated.size} | ${verdicts[i]!.reordered.size} |`
  })
  const table = [
    '| fault | messages acknowledged | errors seen by clients | serving again after | lost | duplicated | out of order |',
    '|---|---:|---|---:|---:|---:|---:|',
    ...rows
  ].join('\n')
  process.stdout.write(`\n${table}\n\n`)
  log(`${totalAcks} messages acknowledged, ${abandoned} abandoned, ${reconnects} stream reconnects`)

  if (totalAcks === 0) failures.push('no message was acknowledged')
  if (abandoned > 0) failures.push(`${abandoned} sends were never acknowledged within 60 s of retries`)
  for (const key of ['lost', 'duplicated', 'reordered'] as const) if (all[key].size > 0) failures.push(`${all[key].size} acknowledged messages ${key}`)
  for (const detail of details.slice(0, 20)) log(detail)
  if (idViolations.length > 0) failures.push(`event ids repeated or out of order on a stream: ${idViolations.slice(0, 5).join('; ')}`)
  // A 4xx under faults would be a bug too (a retried send answered 409, a session lost, a budget in the way).
  const clientErrors = outcomes.filter((outcome) => outcome.status >= 400 && outcome.status < 500)
  if (clientErrors.length > 0) failures.push(`${clientErrors.length} answers with status ${[...new Set(clientErrors.map((outcome) => outcome.status))].join(', ')} (a 4xx is never expected)`)
  const fiveHundreds = outcomes.filter((outcome) => outcome.status >= 500 && outcome.status !== 503)
  if (fiveHundreds.length > 0) failures.push(`${fiveHundreds.length} answers with status ${[...new Set(fiveHundreds.map((outcome) => outcome.status))].join(', ')} (only 503 is allowed)`)
  for (const instance of instances) {
    for (const exit of instance.exits.filter((exit) => !exit.expected)) failures.push(`${instance.name} exited unexpectedly (code ${String(exit.code)}, signal ${String(exit.signal)})\n${instance.tail()}`)
    if (instance.strayLines.length > 0) failures.push(`${instance.name} wrote ${instance.strayLines.length} lines that are not JSON log lines, first: ${instance.strayLines[0]}`)
    if (!await instance.healthy()) failures.push(`${instance.name} is not healthy at the end`)
    if (instance.errorLines.length > 0) {
      const messages = new Map<string, number>()
      for (const line of instance.errorLines) {
        const { msg } = JSON.parse(line) as { msg?: string }
        messages.set(String(msg), (messages.get(String(msg)) ?? 0) + 1)
      }
      log(`${instance.name} logged ${instance.errorLines.length} lines at level error: ${[...messages].map(([msg, n]) => `${n} x "${msg}"`).join(', ')}`)
    }
  }
}

try {
  await main()
} catch (err) {
  failures.push(`the suite itself failed: ${err instanceof Error ? err.stack : String(err)}`)
} finally {
  finished = true
  clearTimeout(overall)
  await cleanup()
}
const seconds = ((Date.now() - started) / 1000).toFixed(0)
if (failures.length === 0) {
  process.stdout.write(`fault suite: passed in ${seconds} s\n`)
} else {
  for (const failure of failures) process.stdout.write(`FAIL: ${failure}\n`)
  process.stdout.write(`fault suite: FAILED (${failures.length} failures) in ${seconds} s\n`)
}
// The load's loops may still be running after a failure: the verdict is in, so stop here.
process.exit(failures.length === 0 ? 0 : 1)
