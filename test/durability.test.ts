// Durability: a message the server acknowledged (201) survives `kill -9` of the server. The point is the
// embedded database (PGlite writes to DATA_DIR itself); on PostgreSQL the same test holds the server to it too.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { createTestDatabase, TEST_JWT_SECRET } from './helpers/app.ts'
import { addContact, registerUser } from './helpers/client.ts'
import { freePort } from './helpers/ports.ts'

// Starting an embedded server creates and migrates its database: slow on a busy machine.
const START_MS = 240_000
t.setTimeout(600_000)

interface Running {
  child: ChildProcess
  exited: Promise<NodeJS.Signals | number | null>
  output: () => string
}

async function startServer (t: Test, port: number, dataDir: string, databaseUrl: string | undefined): Promise<Running> {
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, JWT_SECRET: TEST_JWT_SECRET, LOG_LEVEL: 'warn', NODE_ENV: '' }
  if (databaseUrl === undefined) delete env.DATABASE_URL
  else env.DATABASE_URL = databaseUrl
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], { cwd: new URL('..', import.meta.url), env, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  child.stderr!.on('data', (chunk: Buffer) => { output += chunk.toString() })
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)))
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  const deadline = Date.now() + START_MS
  while (!output.includes('Chat server listening')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start: ${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { child, exited, output: () => output }
}

async function history (baseUrl: string, token: string, peerId: string): Promise<Set<string>> {
  const ids = new Set<string>()
  let before: string | undefined
  for (;;) {
    const query = new URLSearchParams({ limit: '200', ...(before === undefined ? {} : { before }) })
    const response = await fetch(`${baseUrl}/conversations/${peerId}/messages?${query}`, { headers: { authorization: `Bearer ${token}` } })
    if (response.status !== 200) throw new Error(`history: ${response.status} ${await response.text()}`)
    const page = await response.json() as { messages: Array<{ id: string }>, hasMore: boolean }
    for (const message of page.messages) ids.add(message.id)
    if (!page.hasMore || page.messages.length === 0) return ids
    before = page.messages[page.messages.length - 1]!.id
  }
}

t.test('every acknowledged message survives kill -9 of the server', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-durability-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const databaseUrl = await createTestDatabase(t)
  const port = await freePort()
  const baseUrl = `http://127.0.0.1:${port}`
  const first = await startServer(t, port, dataDir, databaseUrl)
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  await addContact(alice, bob)

  // 200 sends in flight at once, from both sides; the server is killed the moment the 100th is acknowledged,
  // while others are still being written. Every 201 seen (before or after that moment) was sent by the server
  // before it died, so its message must be there after the restart.
  const acknowledged: string[] = []
  let killed = false
  const sends = Array.from({ length: 200 }, async (_, i) => {
    const [from, to] = i % 2 === 0 ? [alice, bob] : [bob, alice]
    try {
      const response = await fetch(`${baseUrl}/conversations/${to.id}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${from.token}` },
        body: JSON.stringify({ content: `durable ${i}` })
      })
      if (response.status !== 201) return
      const { id } = await response.json() as { id: string }
      acknowledged.push(id)
      if (acknowledged.length >= 100 && !killed) {
        killed = true
        first.child.kill('SIGKILL')
      }
    } catch {} // the connection died with the server: not acknowledged
  })
  await Promise.all(sends)
  if (!killed) first.child.kill('SIGKILL')
  t.equal(await first.exited, 'SIGKILL', 'the server was killed, not stopped')
  t.ok(acknowledged.length >= 100, `${acknowledged.length} messages acknowledged before the kill`)

  const second = await startServer(t, port, dataDir, databaseUrl)
  const stored = await history(baseUrl, alice.token, bob.id)
  const missing = acknowledged.filter((id) => !stored.has(id))
  t.same(missing, [], `all ${acknowledged.length} acknowledged messages are in the history after the restart (${stored.size} stored)`)
  second.child.kill('SIGTERM')
  await second.exited
})
