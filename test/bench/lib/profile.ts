// BENCH_CPU_PROF=1: the summary of each server's V8 CPU profile (written by --cpu-prof when it stops): the
// functions with the most self time, so a run says where the server's CPU went without opening DevTools.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { ROOT } from './processes.ts'

export const PROFILE_DIR = join(ROOT, 'test/bench/results/profiles')

interface CpuProfile {
  startTime: number
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number } }>
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileEntry {
  /** Function name and where it is: a path under the repository (or node_modules/<package>/...), line. */
  name: string
  selfMs: number
  /** Share of the busy (not idle) time. */
  percent: number
}

export interface ProfileSummary {
  file: string
  /** Only the samples taken while the load ran (start-up and set-up left out), when the stage says when. */
  loadOnly: boolean
  totalMs: number
  /** Share of the time the process was idle (waiting on I/O). */
  idlePercent: number
  top: ProfileEntry[]
}

function where (url: string, line: number): string {
  if (url === '') return ''
  const path = url.replace(/^file:\/\//, '')
  const inModules = path.lastIndexOf('/node_modules/')
  const short = inModules >= 0 ? path.slice(inModules + 1) : path.startsWith(ROOT) ? path.slice(ROOT.length) : path
  return ` ${short}:${line + 1}`
}

/**
 * Self time per function (name and location) of one .cpuprofile, the `count` largest; only samples within
 * `window` (monotonic µs, the clock V8 stamps profiles with) when given.
 */
export function summarizeProfile (file: string, count = 10, window?: [number, number]): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const key = new Map<number, string>()
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame
    key.set(node.id, `${functionName === '' ? '(anonymous)' : functionName}${where(url, lineNumber)}`)
  }
  const self = new Map<string, number>()
  let total = 0
  let at = profile.startTime
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0
    if (window !== undefined && (at < window[0] || at > window[1])) return
    const ms = (profile.timeDeltas[i] ?? 0) / 1000
    const name = key.get(id) ?? '(unknown)'
    self.set(name, (self.get(name) ?? 0) + ms)
    total += ms
  })
  const idle = self.get('(idle)') ?? 0
  self.delete('(idle)')
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, ms]) => ({ name, selfMs: Number(ms.toFixed(1)), percent: Number((ms / (total - idle) * 100).toFixed(1)) }))
  return { file, loadOnly: window !== undefined, totalMs: Number(total.toFixed(1)), idlePercent: Number((idle / total * 100).toFixed(1)), top }
}

/**
 * The main-thread profiles written since `since` (epoch ms), each summarized. Node names them
 * CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile; the other threads' (tsx's module loader) are left out.
 */
export function profilesSince (since: number, window?: [number, number]): ProfileSummary[] {
  let names: string[]
  try {
    names = readdirSync(PROFILE_DIR)
  } catch {
    return []
  }
  return names
    .filter((name) => /\.\d+\.0\.\d+\.cpuprofile$/.test(name))
    .map((name) => join(PROFILE_DIR, name))
    .filter((file) => statSync(file).mtimeMs >= since)
    .sort()
    .map((file) => summarizeProfile(file, 10, window))
}

export function renderProfile (stage: string, summary: ProfileSummary): string {
  const lines = [`${stage} CPU profile ${relative(ROOT, summary.file)}: ${(summary.totalMs / 1000).toFixed(1)} s sampled (${summary.loadOnly ? 'while the load ran' : "the server's life, start-up included"}), ${summary.idlePercent}% idle; top self time, % of busy time:`]
  for (const entry of summary.top) lines.push(`  ${entry.percent.toFixed(1).padStart(5)}%  ${entry.selfMs.toFixed(0).padStart(7)} ms  ${entry.name}`)
  return lines.join('\n')
}
