// What every stage gets from the runner.
import type { BenchDatabase } from './database.ts'
import type { Settings } from './settings.ts'

export interface StageContext {
  settings: Settings
  db: BenchDatabase
  jwtSecret: string
  /** A temporary directory for the servers' DATA_DIR. */
  dataDir: string
  log: (message: string) => void
}

/** Seconds of warm-up before a measured run: a fifth of it, between 1 and 5 s. */
export function warmupSeconds (seconds: number): number {
  return Math.min(5, Math.max(1, Math.round(seconds / 5)))
}

export function sleep (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
