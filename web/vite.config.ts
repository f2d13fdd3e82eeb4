// Builds the web client into web/dist (`vite build web`), which the server serves at `/` (src/plugins/web.ts).
import { defineConfig } from 'vite'

export default defineConfig({
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Everything as files: the server's Content Security Policy allows no inline script.
    assetsInlineLimit: 0
  }
})
