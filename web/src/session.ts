// Signing in and out: the token is kept in localStorage, renewed with token-login halfway to its expiry,
// and dropped (back to sign-in) when the server says the session is gone.
import { api, errorText, setToken, type User, whenUnauthorized } from './api.ts'
import { startSync, stopSync } from './sync.ts'
import { getState, resetState, update } from './store.ts'

const STORAGE_KEY = 'chat.session'
let renewTimer: ReturnType<typeof setTimeout> | undefined

/** What survives a reload: the token, and when to renew it (halfway through its life, fixed when it was issued). */
interface Stored { token: string, renewAt: number }

function keep (token: string, expiresAt: string): void {
  setToken(token)
  const renewAt = Date.now() + (Date.parse(expiresAt) - Date.now()) / 2
  localStorage.setItem(STORAGE_KEY, JSON.stringify({ token, renewAt } satisfies Stored))
  scheduleRenewal(renewAt)
}

function scheduleRenewal (at: number): void {
  clearTimeout(renewTimer)
  renewTimer = setTimeout(() => { void renew() }, Math.min(Math.max(at - Date.now(), 0), 2 ** 31 - 1))
}

function begin (user: User): void {
  resetState({ me: user })
  startSync()
}

async function renew (): Promise<void> {
  const stored = read()
  if (stored === null) return
  if (stored.renewAt > Date.now()) { // another tab renewed it
    setToken(stored.token)
    return scheduleRenewal(stored.renewAt)
  }
  try {
    const { data, response } = await api.POST('/auth/token-login', { body: { token: stored.token } })
    if (data) keep(data.token, data.expiresAt)
    else if (response.status !== 401) scheduleRenewal(Date.now() + 60_000) // rate limited or unavailable: soon again
    // a 401 has already ended the session (whenUnauthorized)
  } catch {
    scheduleRenewal(Date.now() + 60_000) // offline: soon again
  }
}

function read (): Stored | null {
  try {
    const value = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as Partial<Stored> | null
    return typeof value?.token === 'string' && typeof value.renewAt === 'number' ? { token: value.token, renewAt: value.renewAt } : null
  } catch {
    return null
  }
}

/** Back to the sign-in form, with an optional notice saying why. */
export function endSession (notice: string | null = null): void {
  clearTimeout(renewTimer)
  stopSync()
  setToken(null)
  localStorage.removeItem(STORAGE_KEY)
  resetState({ notice })
}

const ENDED = 'Your session has ended. Please sign in again.'

/** On page load: resume a stored session (renewing its token when due), or show sign-in. */
export async function restoreSession (): Promise<void> {
  whenUnauthorized(() => { if (getState().me !== null) endSession(ENDED) })
  addEventListener('chat:revoked', () => endSession('This session was signed out (on another device, or by a password change).'))
  // Signing out in another tab signs out this one too.
  addEventListener('storage', (e) => { if (e.key === STORAGE_KEY && e.newValue === null && getState().me !== null) endSession() })
  const stored = read()
  if (stored === null) return
  update({ restoring: true })
  try {
    if (Date.now() >= stored.renewAt) {
      const { data, response } = await api.POST('/auth/token-login', { body: { token: stored.token } })
      if (data) { keep(data.token, data.expiresAt); return begin(data.user) }
      return failedRestore(response.status)
    }
    setToken(stored.token)
    const { data, response } = await api.GET('/users/me')
    if (data) { scheduleRenewal(stored.renewAt); return begin(data) }
    return failedRestore(response.status)
  } catch {
    setToken(null)
    update({ restoring: false, notice: 'The server could not be reached. Reload to try again.' })
  }
}

function failedRestore (status: number): void {
  setToken(null)
  if (status === 401) localStorage.removeItem(STORAGE_KEY)
  update({ restoring: false, notice: status === 401 ? ENDED : 'The server is busy or unavailable. Reload to try again.' })
}

/** Returns an error sentence, or null when signed in. */
export async function signIn (username: string, password: string): Promise<string | null> {
  try {
    const { data, error } = await api.POST('/auth/login', { body: { username, password } })
    if (data) { keep(data.token, data.expiresAt); begin(data.user); return null }
    return errorText(error)
  } catch {
    return 'The server could not be reached.'
  }
}

export async function signUp (username: string, email: string, password: string): Promise<string | null> {
  try {
    const { data, error } = await api.POST('/auth/register', { body: { username, email, password } })
    if (data) { keep(data.token, data.expiresAt); begin(data.user); return null }
    return errorText(error)
  } catch {
    return 'The server could not be reached.'
  }
}

export async function signOut (): Promise<void> {
  stopSync() // our own stream would otherwise report the logout as a revoked session
  try {
    await api.POST('/auth/logout')
  } catch {
    // Offline: the token is forgotten here anyway.
  }
  endSession()
}
