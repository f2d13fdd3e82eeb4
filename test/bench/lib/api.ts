// The few API calls the benchmark makes to set up users, contacts and tokens, over a keep-alive pool.
import { randomBytes } from 'node:crypto'
import { Pool } from 'undici'

export interface BenchUser {
  id: string
  username: string
  token: string
}

export class Api {
  readonly pool: Pool
  constructor (readonly baseUrl: string) {
    this.pool = new Pool(baseUrl, { connections: 8 })
  }

  async call (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, token?: string): Promise<{ status: number, json: any }> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    const response = await this.pool.request({ method, path, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await response.body.text()
    let json: any
    try {
      json = text === '' ? undefined : JSON.parse(text)
    } catch {
      json = text
    }
    return { status: response.statusCode, json }
  }

  async expect (status: number, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, token?: string): Promise<any> {
    const result = await this.call(method, path, body, token)
    if (result.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${result.status} ${JSON.stringify(result.json)}`)
    return result.json
  }

  async register (prefix: string): Promise<BenchUser> {
    const username = `${prefix}_${randomBytes(5).toString('hex')}`.slice(0, 32)
    const session = await this.expect(201, 'POST', '/auth/register', {
      username,
      password: 'bench-password-123',
      email: `${username}@bench.example.com`
    })
    return { id: session.user.id, username, token: session.token }
  }

  /** Registers `count` users, a few at a time (each costs an argon2 hash on the server). */
  async registerMany (prefix: string, count: number, concurrency = 4): Promise<BenchUser[]> {
    const users: BenchUser[] = new Array(count)
    let next = 0
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const index = next++
        users[index] = await this.register(`${prefix}${index}`)
      }
    }))
    return users
  }

  async addContact (owner: BenchUser, contact: BenchUser): Promise<void> {
    await this.expect(201, 'POST', '/contacts', { userId: contact.id }, owner.token)
  }

  close (): Promise<void> {
    return this.pool.close()
  }
}
