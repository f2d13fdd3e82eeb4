// The JWT secret: JWT_SECRET, or one generated once into DATA_DIR so tokens survive restarts in development.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export function loadOrCreateSecret (dataDir: string, warn: (message: string) => void): string {
  const path = join(dataDir, 'jwt-secret')
  try {
    return readFileSync(path, 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  mkdirSync(dataDir, { recursive: true })
  const secret = randomBytes(48).toString('base64url')
  writeFileSync(path, secret + '\n', { mode: 0o600, flag: 'wx' })
  warn(`JWT_SECRET is not set: generated one into ${path}. Set JWT_SECRET in production (and the same on every instance).`)
  return secret
}
