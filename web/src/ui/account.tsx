// The profile's account sections: signed-in devices (sign one or all others out), blocked users (unblock), and
// deleting the account (password, then a last confirmation).
import { useEffect, useState } from 'preact/hooks'
import { deleteAccount, listSessions, revokeSessions, setBlocked } from '../actions.ts'
import type { PublicUser, SessionInfo } from '../api.ts'
import { endSession, signOut } from '../session.ts'
import { Avatar } from './avatar.tsx'
import { dateTime, deviceName } from './format.ts'

export function Devices () {
  const [sessions, setSessions] = useState<SessionInfo[] | null>(null)
  const [error, setError] = useState<string | null>(null)

  async function load () {
    const result = await listSessions()
    if ('error' in result) setError(result.error)
    else setSessions(result)
  }
  useEffect(() => { void load() }, [])

  async function revoke (sessionId?: string) {
    const failure = await revokeSessions(sessionId)
    setError(failure)
    await load()
  }

  const others = sessions?.filter((s) => !s.current) ?? []
  return (
    <section class='devices' aria-labelledby='devices-title'>
      <h2 id='devices-title'>Signed-in devices</h2>
      {sessions === null && error === null && <p class='muted'>Loading…</p>}
      {sessions !== null && (
        <ul class='list' aria-label='Devices'>
          {sessions.map((s) => {
            const name = deviceName(s.userAgent)
            return (
              <li key={s.id} class='row'>
                <span class='row-main'>
                  <span class='row-title' title={s.userAgent ?? undefined}>{name}{s.current && <span class='current'> (this device)</span>}</span>
                  <span class='row-sub'>Signed in {dateTime(s.createdAt)}</span>
                  <span class='row-sub'>Last active {dateTime(s.lastUsedAt)}</span>
                </span>
                {s.current
                  ? <button type='button' aria-label='Sign out this device' onClick={() => { void signOut() }}>Sign out</button>
                  : <button type='button' aria-label={`Sign out ${name}, signed in ${dateTime(s.createdAt)}`} onClick={() => { void revoke(s.id) }}>Sign out</button>}
              </li>
            )
          })}
        </ul>
      )}
      {error !== null && <p class='error' role='alert'>{error}</p>}
      {others.length > 0 && <button type='button' onClick={() => { void revoke() }}>Sign out all other devices</button>}
    </section>
  )
}

export function BlockedUsers ({ blocked }: { blocked: PublicUser[] }) {
  const [error, setError] = useState<string | null>(null)
  return (
    <section class='blocked-users' aria-labelledby='blocked-title'>
      <h2 id='blocked-title'>Blocked users</h2>
      {blocked.length === 0
        ? <p class='muted'>You have blocked no one. Block someone from your contacts.</p>
        : (
          <ul class='list' aria-label='Blocked users'>
            {blocked.map((u) => (
              <li key={u.id} class='row'>
                <Avatar name={u.username} url={u.avatarUrl} />
                <span class='row-main'><span class='row-title'>{u.username}</span></span>
                <button type='button' aria-label={`Unblock ${u.username}`} onClick={() => { void setBlocked(u.id, false).then(setError) }}>Unblock</button>
              </li>
            ))}
          </ul>
          )}
      {error !== null && <p class='error' role='alert'>{error}</p>}
    </section>
  )
}

export function DeleteAccount () {
  const [open, setOpen] = useState(false)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  async function submit (e: Event) {
    e.preventDefault()
    const password = String(new FormData(e.currentTarget as HTMLFormElement).get('password'))
    setBusy(true)
    const failure = await deleteAccount(password)
    setBusy(false)
    if (failure === null) return endSession('Your account was deleted.')
    setError(failure)
  }

  return (
    <section class='delete-account' aria-labelledby='delete-title'>
      <h2 id='delete-title'>Delete account</h2>
      {!open
        ? <button type='button' class='danger' onClick={() => setOpen(true)}>Delete my account…</button>
        : (
          <form onSubmit={(e) => { void submit(e) }} aria-label='Delete account'>
            <p>
              This deletes your account for good: your messages and files on both sides of every conversation, your
              contacts and your devices. It cannot be undone.
            </p>
            <label>Password <small>(to confirm)</small> <input name='password' type='password' required maxLength={256} autocomplete='current-password' /></label>
            {error !== null && <p class='error' role='alert'>{error}</p>}
            <div class='row-actions'>
              <button type='submit' class='danger' disabled={busy}>Delete my account for good</button>
              <button type='button' onClick={() => { setOpen(false); setError(null) }}>Cancel</button>
            </div>
          </form>
          )}
    </section>
  )
}
