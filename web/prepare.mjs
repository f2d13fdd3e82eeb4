// npm's prepare step: builds the web client into web/dist. An install without dev dependencies (npm ci --omit=dev,
// as in a production image) has no Vite: it says so in one line and goes on. The API works as before, and `/`
// answers 404 naming the missing build. Copy a web/dist built elsewhere to serve the client.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'

try {
  createRequire(import.meta.url).resolve('vite/package.json')
} catch {
  console.log('web client not built: Vite is a dev dependency and is not installed (run npm run build:web where it is)')
  process.exit(0)
}
const build = spawnSync('npm', ['run', 'build:web'], { stdio: 'inherit' })
process.exit(build.status ?? 1)
