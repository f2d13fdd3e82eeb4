// A TCP proxy in front of a database: tests point servers at it, then refuse their connections for a while
// (closing the open ones too), as a database that went away would.
import { connect, createServer, type Server, type Socket } from 'node:net'

/** Listens on a free port (the same one again after close) and forwards every connection to 127.0.0.1:`target`. */
export class Proxy {
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()

  private constructor (public port: number, private readonly target: number) {}

  static async create (target: number): Promise<Proxy> {
    const proxy = new Proxy(0, target)
    await proxy.listen()
    return proxy
  }

  /** Accepts connections (again). */
  listen (): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1')
      for (const socket of [client, upstream]) {
        this.sockets.add(socket)
        socket.on('error', () => {})
        socket.on('close', () => {
          this.sockets.delete(socket)
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    this.server = server
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => {
        const address = server.address()
        if (typeof address === 'object' && address !== null) this.port = address.port
        resolve()
      })
    })
  }

  /** Closes every connection and refuses new ones (ECONNREFUSED) for `ms`, then accepts again. */
  async refuse (ms: number): Promise<void> {
    await this.close()
    await new Promise((resolve) => setTimeout(resolve, ms))
    await this.listen()
  }

  /** Stops forwarding on the open connections without closing them, as a half-open link: new ones work. */
  stall (): void {
    for (const socket of this.sockets) {
      socket.unpipe()
      socket.pause()
    }
  }

  /** Closes every connection and refuses new ones until listen() is called. */
  async close (): Promise<void> {
    const server = this.server
    this.server = undefined
    for (const socket of this.sockets) socket.destroy()
    if (server !== undefined) await new Promise((resolve) => server.close(resolve))
  }
}
