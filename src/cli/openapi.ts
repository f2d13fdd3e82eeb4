// Writes openapi/openapi.json from the app's route schemas (npm run openapi; CI checks it is up to date).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildApp } from '../app.ts'
import { loadConfig } from '../config.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'chat-openapi-'))
try {
  const app = await buildApp({ ...loadConfig({ LOG_LEVEL: 'warn' }), dataDir, jwtSecret: 'openapi-generation-only-secret-0123456789' })
  await app.ready()
  const document = app.swagger()
  await app.close()
  const target = new URL('../../openapi/openapi.json', import.meta.url)
  writeFileSync(target, JSON.stringify(document, null, 2) + '\n')
  process.stdout.write(`wrote ${target.pathname}\n`)
} finally {
  rmSync(dataDir, { recursive: true, force: true })
}
