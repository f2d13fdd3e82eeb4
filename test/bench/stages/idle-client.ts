// C's client, a process of its own (started by idle.ts over IPC): opens many idle SSE streams over raw
// sockets (the least client memory and CPU per stream), in batches, and reports which still get heartbeats.
import net from 'node:net'

export interface IdleSpec {
  host: string
  port: number
  tokens: string[]
  target: number
  batch: number
  /** Stop opening after this long, whatever the count. */
  budgetMs: number
}

export interface IdleOpened {
  opened: number
  failed: number
  firstError?: string
  ms: number
}

const sockets: net.Socket[] = []
let gotData = new Uint8Array(0)
let closedAfterOpen = 0

function openOne (spec: IdleSpec, index: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const token = spec.tokens[index % spec.tokens.length]!
    const socket = net.connect({ host: spec.host, port: spec.port })
    let ready = false
    let head = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error('stream not ready within 30 s'))
    }, 30_000)
    socket.on('connect', () => {
      socket.write(`GET /events HTTP/1.1\r\nHost: ${spec.host}:${spec.port}\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`)
    })
    socket.on('data', (chunk: Buffer) => {
      if (ready) {
        gotData[index] = 1
        return
      }
      head += chunk.toString('latin1')
      if (!head.startsWith('HTTP/1.1 200')) {
        if (head.length >= 12) {
          clearTimeout(timer)
          socket.destroy()
          reject(new Error(`GET /events answered ${head.slice(0, 40).split('\r\n')[0]}`))
        }
        return
      }
      if (head.includes('event: ready')) {
        ready = true
        head = ''
        clearTimeout(timer)
        sockets[index] = socket
        resolve()
      }
    })
    socket.on('error', (err) => {
      clearTimeout(timer)
      if (!ready) reject(err)
    })
    socket.on('close', () => {
      if (ready) closedAfterOpen++
    })
  })
}

async function open (spec: IdleSpec): Promise<IdleOpened> {
  gotData = new Uint8Array(spec.target)
  const started = performance.now()
  let opened = 0
  let failed = 0
  let firstError: string | undefined
  while (opened < spec.target && performance.now() - started < spec.budgetMs) {
    const size = Math.min(spec.batch, spec.target - opened)
    const results = await Promise.allSettled(Array.from({ length: size }, (_, i) => openOne(spec, opened + i)))
    let batchFailed = 0
    for (const result of results) {
      if (result.status === 'rejected') {
        batchFailed++
        firstError ??= String((result.reason as Error)?.message ?? result.reason)
      }
    }
    // Sockets are indexed by position: a failed batch ends the opening (the box has reached its limit).
    opened += size - batchFailed
    failed += batchFailed
    if (batchFailed > 0) break
  }
  return { opened, failed, ...(firstError === undefined ? {} : { firstError }), ms: performance.now() - started }
}

process.on('message', (message: { open?: IdleSpec, markPings?: true, countPings?: true }) => {
  if (message.open !== undefined) {
    open(message.open).then((opened) => process.send!({ opened }), (err: Error) => process.send!({ error: err.stack ?? String(err) }))
  } else if (message.markPings === true) {
    gotData.fill(0)
    process.send!({ marked: true })
  } else if (message.countPings === true) {
    let pinged = 0
    for (let i = 0; i < sockets.length; i++) if (sockets[i] !== undefined && gotData[i] === 1) pinged++
    process.send!({ pinged, closed: closedAfterOpen })
  }
})
