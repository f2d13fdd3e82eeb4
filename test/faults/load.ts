// The fault suite's load: pairs of users, each sender sending numbered texts with its own client ids (a send
// that fails is retried with the same id on the other instance), and every user on an SSE stream that resumes
// with Last-Event-ID on the other instance when it drops. Records what was acknowledged and what was received.
import { randomUUID } from 'node:crypto'
import { type ClientRequest, request as httpRequest } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Endpoint {
  name: string
  baseUrl: string
}

export interface User {
  id: string
  username: string
  token: string
}

/** One HTTP answer (or a network error, status 0) seen by the load, for the table. */
export interface Outcome {
  at: number
  status: number
  what: string
}

export interface Ack {
  pair: number
  seq: number
  id: string
  at: number
}

const SEND_DEADLINE_MS = 60_000

async function call (baseUrl: string, method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number, json: any, retryAfter: string | null }> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(token === undefined ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(15_000)
  })
  const text = await response.text()
  let json: unknown
  try { json = JSON.parse(text) } catch {}
  return { status: response.status, json, retryAfter: response.headers.get('retry-after') }
}

export async function register (endpoint: Endpoint): Promise<User> {
  const username = `f_${randomUUID().slice(0, 12)}`
  const { status, json } = await call(endpoint.baseUrl, 'POST', '/auth/register', undefined, { username, password: 'fault suite password', email: `${username}@example.com` })
  if (status !== 201) throw new Error(`register answered ${status}: ${JSON.stringify(json)}`)
  return { id: json.user.id, username, token: json.token }
}

export async function addContact (endpoint: Endpoint, owner: User, contact: User): Promise<void> {
  const { status, json } = await call(endpoint.baseUrl, 'POST', '/contacts', owner.token, { username: contact.username })
  if (status !== 201) throw new Error(`add contact answered ${status}: ${JSON.stringify(json)}`)
}

/** Every message of a conversation as `user` sees it, oldest first. */
export async function history (endpoint: Endpoint, user: User, peerId: string): Promise<string[]> {
  const ids: string[] = []
  let before: string | undefined
  for (let page = 0; page < 1000; page++) {
    const { status, json } = await call(endpoint.baseUrl, 'GET', `/conversations/${peerId}/messages?limit=200${before === undefined ? '' : `&before=${before}`}`, user.token)
    if (status !== 200) throw new Error(`history answered ${status}: ${JSON.stringify(json)}`)
    const { messages, hasMore } = json as { messages: Array<{ id: string }>, hasMore: boolean }
    ids.push(...messages.map((message) => message.id))
    if (!hasMore || messages.length === 0) break
    before = messages.at(-1)!.id
  }
  return ids.reverse()
}

/** One user's event stream: reconnects to the other instance with Last-Event-ID whenever it drops. */
export class StreamReader {
  /** message.created ids in arrival order. */
  readonly messages: string[] = []
  /** Durable event ids that did not strictly increase (a repeat or a reordering). */
  readonly idViolations: string[] = []
  lastId: number | undefined
  private current: ClientRequest | undefined
  private stopped = false
  private lastData = 0
  reconnects = 0
  /** Where the stream is (or was last) connected, and since when. */
  at = ''
  readonly loop: Promise<void>

  constructor (private readonly user: User, private readonly endpoints: Endpoint[], private home: number, private readonly record: (outcome: Outcome) => void) {
    this.loop = this.run()
  }

  /** Drops the connection from the client side (the suite's "dropped streams" fault). */
  drop (): void {
    this.current?.destroy()
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.current?.destroy()
    await this.loop
  }

  private async run (): Promise<void> {
    let target = this.home
    while (!this.stopped) {
      this.at = `${this.endpoints[target]!.name} since ${new Date().toISOString().slice(11, 23)}`
      const ended = await this.connect(this.endpoints[target]!)
      if (this.stopped) break
      this.reconnects++
      // Resume on the other instance, as a client behind a load balancer would after a drop.
      target = (target + 1) % this.endpoints.length
      await sleep(ended === 'refused' ? 200 : 50)
    }
  }

  private connect (endpoint: Endpoint): Promise<'ended' | 'refused'> {
    return new Promise((resolve) => {
      const url = new URL('/events', endpoint.baseUrl)
      const headers: Record<string, string> = { authorization: `Bearer ${this.user.token}`, accept: 'text/event-stream' }
      if (this.lastId !== undefined) headers['last-event-id'] = String(this.lastId)
      let settled = false
      let watchdog: NodeJS.Timeout | undefined
      const done = (how: 'ended' | 'refused') => {
        if (settled) return
        settled = true
        clearInterval(watchdog)
        this.current = undefined
        req.destroy()
        resolve(how)
      }
      const req = httpRequest(url, { headers })
      this.current = req
      req.on('error', () => {
        this.record({ at: Date.now(), status: 0, what: 'stream' })
        done('refused')
      })
      req.on('response', (res) => {
        if (res.statusCode !== 200) {
          this.record({ at: Date.now(), status: res.statusCode ?? 0, what: 'stream' })
          res.resume()
          res.on('end', () => done('refused'))
          res.on('error', () => done('refused'))
          return
        }
        this.lastData = Date.now()
        // Heartbeats come every 2 s: a stream silent for 8 s is dead (a half-open connection), so resume elsewhere.
        watchdog = setInterval(() => { if (Date.now() - this.lastData > 8000) done('ended') }, 1000)
        res.setEncoding('utf8')
        let buffer = ''
        res.on('data', (chunk: string) => {
          this.lastData = Date.now()
          buffer += chunk
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            this.frame(buffer.slice(0, end))
            buffer = buffer.slice(end + 2)
          }
        })
        res.on('end', () => done('ended'))
        res.on('error', () => done('ended'))
        res.on('close', () => done('ended'))
      })
      req.end()
    })
  }

  private frame (text: string): void {
    let id: string | undefined
    let event = 'message'
    let data = ''
    for (const line of text.split('\n')) {
      if (line.startsWith('id: ')) id = line.slice(4)
      else if (line.startsWith('event: ')) event = line.slice(7)
      else if (line.startsWith('data: ')) data += line.slice(6)
    }
    if (id === undefined) return
    const numeric = Number(id)
    if (this.lastId !== undefined && numeric <= this.lastId) this.idViolations.push(`${this.lastId} then ${numeric}`)
    this.lastId = Math.max(numeric, this.lastId ?? 0)
    if (event === 'message.created') this.messages.push((JSON.parse(data) as { id: string }).id)
  }
}

/** One sender: numbered texts to its receiver, one at a time, each retried with its id until acknowledged. */
export class Sender {
  readonly acks: Ack[] = []
  /** Messages given up on (no acknowledgement within the deadline): they may or may not exist. */
  readonly abandoned: string[] = []
  private stopped = false
  readonly loop: Promise<void>

  constructor (
    readonly pair: number,
    private readonly from: User,
    private readonly to: User,
    private readonly endpoints: Endpoint[],
    private readonly home: number,
    private readonly intervalMs: number,
    private readonly record: (outcome: Outcome) => void
  ) {
    this.loop = this.run()
  }

  async stop (): Promise<void> {
    this.stopped = true
    await this.loop
  }

  private async run (): Promise<void> {
    for (let seq = 1; !this.stopped; seq++) {
      await this.send(seq)
      await sleep(this.intervalMs)
    }
  }

  private async send (seq: number): Promise<void> {
    const id = randomUUID()
    let target = this.home
    for (const deadline = Date.now() + SEND_DEADLINE_MS; Date.now() < deadline;) {
      const endpoint = this.endpoints[target]!
      let status = 0
      try {
        status = (await call(endpoint.baseUrl, 'POST', `/conversations/${this.to.id}/messages`, this.from.token, { id, content: `pair ${this.pair} #${seq}` })).status
      } catch {}
      if (status === 200 || status === 201) {
        this.acks.push({ pair: this.pair, seq, id, at: Date.now() })
        return
      }
      this.record({ at: Date.now(), status, what: 'send' })
      // Retried with the same id on the other instance, as a client behind a load balancer would.
      target = (target + 1) % this.endpoints.length
      await sleep(100)
    }
    this.abandoned.push(id)
  }
}
