// Builds the web client into web/dist, which the server serves at `/` (src/plugins/web.ts).
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Everything as files: the server's Content Security Policy allows no inline script.
    assetsInlineLimit: 0
  }
})
