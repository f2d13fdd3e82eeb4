// Uploads are bounded by an idle timeout (REQUEST_IDLE_TIMEOUT_SECONDS), not a total one: a slow upload that keeps
// moving completes however long it takes; one that stalls is cut, leaving no message and no file.
import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'

const IDLE_MS = 1000
const { baseUrl, config } = await startApp(t, { requestIdleTimeoutMs: IDLE_MS })
const [alice, bob] = await Promise.all([registerUser(baseUrl), registerUser(baseUrl)])
await addContact(alice, bob)

/** Sends a multipart upload in `pieces`, waiting `pauses[i]` ms before piece i; answers the status, or 'closed'. */
function dribble (from: TestUser, to: TestUser, bytes: Buffer, pauses: number[]): Promise<number | 'closed'> {
  const boundary = `----slow${randomBytes(8).toString('hex')}`
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="slow.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`),
    bytes,
    Buffer.from(`\r\n--${boundary}--\r\n`)
  ])
  const size = Math.ceil(body.length / pauses.length)
  return new Promise((resolve, reject) => {
    const request = http.request(new URL(`/conversations/${to.id}/files`, baseUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${from.token}`, 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': body.length }
    }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode!))
    })
    request.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') resolve('closed')
      else reject(err)
    })
    void (async () => {
      for (let i = 0; i < pauses.length; i++) {
        await sleep(pauses[i]!)
        if (request.destroyed) return
        request.write(body.subarray(i * size, (i + 1) * size))
      }
      request.end()
    })()
  })
}

async function historyLength (user: TestUser, peer: TestUser): Promise<number> {
  const { data } = await user.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: peer.id } } })
  return data!.messages.length
}

t.test('a slow upload that keeps moving completes, however much longer than the idle timeout it takes', async (t) => {
  const pauses = Array.from({ length: 12 }, () => IDLE_MS / 3) // 4 s in all, never idle for a whole second
  t.equal(await dribble(alice, bob, randomBytes(64 * 1024), pauses), 201)
  t.equal(await historyLength(bob, alice), 1)
})

t.test('a stalled upload is cut: no message, no file, nothing staged', async (t) => {
  const before = await historyLength(bob, alice)
  const result = await dribble(alice, bob, randomBytes(64 * 1024), [0, 100, IDLE_MS * 3, 0])
  t.not(result, 201, `refused (${result})`)
  t.equal(await historyLength(bob, alice), before, 'no message')
  const files = join(config.dataDir, 'files')
  await sleep(200)
  t.same(readdirSync(join(files, 'tmp')), [], 'nothing left staged')
  t.equal(readdirSync(files).filter((name) => name !== 'tmp').length, 1, 'only the first upload\'s file is stored')
})

t.test('an event stream is not an idle connection', async (t) => {
  const controller = new AbortController()
  const response = await fetch(`${baseUrl}/events`, { headers: { authorization: `Bearer ${alice.token}` }, signal: controller.signal })
  t.equal(response.status, 200)
  const reader = response.body!.getReader()
  await sleep(IDLE_MS * 3) // the default heartbeat (15 s) is far off: the socket is idle all this time
  const sent = await alice.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } }, body: { content: 'still there?' } })
  t.equal(sent.response.status, 201)
  let text = ''
  while (!text.includes('still there?')) {
    const { value, done } = await reader.read()
    if (done) break
    text += Buffer.from(value).toString('utf8')
  }
  t.match(text, /still there\?/, 'the stream stayed open and got the message')
  controller.abort()
})
