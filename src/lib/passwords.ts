// Password hashing with argon2id; a fixed dummy hash makes unknown-user logins cost what wrong-password ones do.
import argon2 from 'argon2'
import type { Argon2Params } from '../config.ts'

export interface PasswordHasher {
  hash: (password: string) => Promise<string>
  /** Verifies against the stored hash, or against a dummy one when there is none, so both take the same time. */
  verify: (hash: string | undefined, password: string) => Promise<boolean>
}

export async function createPasswordHasher (params: Argon2Params): Promise<PasswordHasher> {
  const options = { type: argon2.argon2id, ...params }
  const hash = (password: string) => argon2.hash(password, options)
  const dummyHash = await hash('dummy password that nobody has')
  return {
    hash,
    async verify (stored, password) {
      try {
        const ok = await argon2.verify(stored ?? dummyHash, password)
        return ok && stored !== undefined
      } catch {
        return false
      }
    }
  }
}
