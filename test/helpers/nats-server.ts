// A private nats-server for fault tests: started on a free port, stopped and started again on the same port.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { connect } from 'node:net'
import { freePort } from './ports.ts'
import { setTimeout as sleep } from 'node:timers/promises'

const BINARIES = [process.env.NATS_SERVER_BIN, '/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']

/** Where nats-server is installed, or undefined. */
export const natsServerBin = BINARIES.find((path): path is string => path !== undefined && path !== '' && existsSync(path))

function accepts (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}

export class NatsServer {
  private proc: ChildProcess | undefined

  private constructor (readonly port: number) {}

  static async start (t: { teardown: (fn: () => unknown) => void }): Promise<NatsServer> {
    const server = new NatsServer(await freePort())
    t.teardown(() => server.stop())
    await server.restart()
    return server
  }

  get url (): string {
    return `nats://127.0.0.1:${this.port}`
  }

  /** Starts it (again, on the same port) and waits until it accepts connections. */
  async restart (): Promise<void> {
    if (natsServerBin === undefined) throw new Error('nats-server is not installed')
    this.proc = spawn(natsServerBin, ['-a', '127.0.0.1', '-p', String(this.port)], { stdio: 'ignore' })
    const deadline = Date.now() + 10_000
    while (!await accepts(this.port)) {
      if (this.proc.exitCode !== null) throw new Error(`nats-server exited with ${this.proc.exitCode}`)
      if (Date.now() > deadline) throw new Error('nats-server did not start')
      await sleep(50)
    }
  }

  /** Stops it at once (SIGKILL: no goodbye to the clients, as in a crash). */
  async stop (): Promise<void> {
    const proc = this.proc
    this.proc = undefined
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
  }
}
