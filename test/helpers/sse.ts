// A real Server-Sent Events client over a real socket (frames parsed by sse-parser.ts): lets tests wait for
// events, pause reading, or drop the connection.
import http from 'node:http'
import { type SseFrame, SseParser } from './sse-parser.ts'

export type { SseFrame }

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
      const parser = new SseParser()
      response.on('data', (chunk: string) => {
        for (const item of parser.push(chunk)) {
          if (item.type === 'frame') frames.push(item.frame)
          else if (item.type === 'comment') comments.push(item.text)
          else connection.retry = item.ms
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

interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** Connects a stream that closes when `t` ends and, if it opened (200), waits for its `ready` event. */
export async function openStream (t: Teardown, baseUrl: string, options: ConnectOptions = {}, readyTimeoutMs?: number): Promise<SseConnection> {
  const stream = await connectSse(baseUrl, options)
  t.teardown(() => stream.close())
  if (stream.status === 200) await stream.waitForEvent('ready', readyTimeoutMs)
  return stream
}

/** The `online` values of the `presence` events a stream received about one user, in order. */
export function presenceOf (stream: SseConnection, userId: string): boolean[] {
  return stream.frames
    .filter((frame) => frame.event === 'presence' && (JSON.parse(frame.data) as { userId: string }).userId === userId)
    .map((frame) => (JSON.parse(frame.data) as { online: boolean }).online)
}
