// A real Server-Sent Events client over a real socket: parses frames as a browser's EventSource does and
// lets tests wait for events, pause reading, or drop the connection.
import http from 'node:http'

export interface SseFrame {
  id?: string
  event: string
  data: string
}

export interface SseConnection {
  status: number
  headers: http.IncomingHttpHeaders
  frames: SseFrame[]
  comments: string[]
  retry?: number
  /** Resolves once the server has ended the stream. */
  ended: Promise<void>
  isEnded: () => boolean
  /** Frames of durable events (those with an id), parsed. */
  durable: () => Array<{ id: number, event: string, data: any }>
  waitFor: (predicate: (frames: SseFrame[]) => boolean, timeoutMs?: number, what?: string) => Promise<SseFrame[]>
  /** The next frame of this type not returned by an earlier call (waits for it). */
  waitForEvent: (event: string, timeoutMs?: number) => Promise<SseFrame>
  /** Raw response, for pausing reads. */
  response: http.IncomingMessage
  close: () => void
  body?: string
}

export interface ConnectOptions {
  token?: string
  query?: Record<string, string>
  lastEventId?: string
  /** Do not read the response (simulates a stalled client). */
  paused?: boolean
}

export function connectSse (baseUrl: string, options: ConnectOptions = {}): Promise<SseConnection> {
  const url = new URL('/events', baseUrl)
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value)
  const headers: Record<string, string> = { accept: 'text/event-stream' }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  if (options.lastEventId !== undefined) headers['last-event-id'] = options.lastEventId
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers }, (response) => {
      const frames: SseFrame[] = []
      const comments: string[] = []
      let ended = false
      let buffer = ''
      let current: Partial<SseFrame> & { dataLines?: string[] } = {}
      const listeners = new Set<() => void>()
      const taken = new Map<string, number>()
      const notify = () => { for (const listener of listeners) listener() }
      let endResolve!: () => void
      const endedPromise = new Promise<void>((resolveEnd) => { endResolve = resolveEnd })
      const finish = () => {
        if (ended) return
        ended = true
        endResolve()
        notify()
      }
      const connection: SseConnection = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        frames,
        comments,
        ended: endedPromise,
        isEnded: () => ended,
        response,
        durable: () => frames.filter((frame) => frame.id !== undefined).map((frame) => ({ id: Number(frame.id), event: frame.event, data: JSON.parse(frame.data) })),
        waitFor: (predicate, timeoutMs = 10_000, what = 'frames') => new Promise((resolveWait, rejectWait) => {
          if (predicate(frames)) return resolveWait(frames)
          const timer = setTimeout(() => {
            listeners.delete(check)
            rejectWait(new Error(`timed out waiting for ${what}; got ${frames.length} frames: ${JSON.stringify(frames.slice(-5))}`))
          }, timeoutMs)
          const check = () => {
            if (predicate(frames)) {
              clearTimeout(timer)
              listeners.delete(check)
              resolveWait(frames)
            } else if (ended) {
              clearTimeout(timer)
              listeners.delete(check)
              rejectWait(new Error(`stream ended while waiting for ${what}`))
            }
          }
          listeners.add(check)
        }),
        waitForEvent: async (event, timeoutMs) => {
          // Each call returns the next frame of that type not returned before.
          const seen = taken.get(event) ?? 0
          await connection.waitFor((all) => all.filter((frame) => frame.event === event).length > seen, timeoutMs, `event ${event} #${seen + 1}`)
          taken.set(event, seen + 1)
          return frames.filter((frame) => frame.event === event)[seen]!
        },
        close: () => {
          request.destroy()
          finish()
        }
      }
      if (response.statusCode !== 200) {
        let body = ''
        response.setEncoding('utf8')
        response.on('data', (chunk: string) => { body += chunk })
        response.on('end', () => {
          connection.body = body
          finish()
          resolve(connection)
        })
        return
      }
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => {
        buffer += chunk
        let index: number
        while ((index = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, index).replace(/\r$/, '')
          buffer = buffer.slice(index + 1)
          if (line === '') {
            if (current.dataLines !== undefined) {
              frames.push({ id: current.id, event: current.event ?? 'message', data: current.dataLines.join('\n') })
            }
            current = {}
            continue
          }
          if (line.startsWith(':')) {
            comments.push(line.slice(1).trim())
            continue
          }
          const colon = line.indexOf(':')
          const field = colon < 0 ? line : line.slice(0, colon)
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
          if (field === 'data') (current.dataLines ??= []).push(value)
          else if (field === 'event') current.event = value
          else if (field === 'id') current.id = value
          else if (field === 'retry') connection.retry = Number(value)
        }
        notify()
      })
      response.on('end', finish)
      response.on('close', finish)
      response.on('error', finish)
      if (options.paused) response.pause()
      resolve(connection)
    })
    request.on('error', reject)
  })
}
