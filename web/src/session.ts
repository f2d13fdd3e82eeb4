// Signing in and out: the token is kept in localStorage, renewed with token-login halfway to its expiry,
// and dropped (back to sign-in) when the server says the session is gone.
import { api, errorText, type Session, setToken, whenUnauthorized } from './api.ts'
import { startSync, stopSync } from './sync.ts'
import { getState, resetState, update } from './store.ts'

const STORAGE_KEY = 'chat.session'
let renewTimer: ReturnType<typeof setTimeout> | undefined

interface Stored { token: string, expiresAt: string }

function scheduleRenewal (expiresAt: string): void {
  clearTimeout(renewTimer)
  const half = (Date.parse(expiresAt) - Date.now()) / 2
  renewTimer = setTimeout(() => { void renew() }, Math.min(Math.max(half, 10_000), 2 ** 31 - 1))
}

function keep (session: Session): void {
  setToken(session.token)
  localStorage.setItem(STORAGE_KEY, JSON.stringify({ token: session.token, expiresAt: session.expiresAt } satisfies Stored))
  scheduleRenewal(session.expiresAt)
}

function begin (session: Session): void {
  keep(session)
  resetState({ me: session.user })
  startSync()
}

async function renew (): Promise<void> {
  const stored = read()
  if (stored === null) return
  try {
    const { data } = await api.POST('/auth/token-login', { body: { token: stored.token } })
    if (data) keep(data) // a 401 already ended the session through whenUnauthorized
  } catch {
    renewTimer = setTimeout(() => { void renew() }, 60_000) // offline: try again soon
  }
}

function read (): Stored | null {
  try {
    const value = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null') as Stored | null
    return typeof value?.token === 'string' ? value : null
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

/** On page load: resume a stored session (renewing its token), or show sign-in. */
export async function restoreSession (): Promise<void> {
  whenUnauthorized(() => { if (getState().me !== null) endSession('Your session has ended. Please sign in again.') })
  addEventListener('chat:revoked', () => endSession('This session was signed out (on another device, or by a password change).'))
  // Signing out in another tab signs out this one too.
  addEventListener('storage', (e) => { if (e.key === STORAGE_KEY && e.newValue === null && getState().me !== null) endSession() })
  const stored = read()
  if (stored === null) return
  update({ restoring: true })
  try {
    const { data, response } = await api.POST('/auth/token-login', { body: { token: stored.token } })
    if (data) return begin(data)
    if (response.status === 401) localStorage.removeItem(STORAGE_KEY)
    update({ restoring: false, notice: response.status === 401 ? 'Your session has ended. Please sign in again.' : 'The server could not be reached. Try again.' })
  } catch {
    update({ restoring: false, notice: 'The server could not be reached. Reload to try again.' })
  }
}

/** Returns an error sentence, or null when signed in. */
export async function signIn (username: string, password: string): Promise<string | null> {
  try {
    const { data, error } = await api.POST('/auth/login', { body: { username, password } })
    if (data) { begin(data); return null }
    return errorText(error)
  } catch {
    return 'The server could not be reached.'
  }
}

export async function signUp (username: string, email: string, password: string): Promise<string | null> {
  try {
    const { data, error } = await api.POST('/auth/register', { body: { username, email, password } })
    if (data) { begin(data); return null }
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
