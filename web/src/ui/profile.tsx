// Profile: avatar, username and email, password, devices, blocked users, sign out, deleting the account.
import { useRef, useState } from 'preact/hooks'
import { changeAvatar, updateProfile } from '../actions.ts'
import type { PublicUser, User } from '../api.ts'
import { signOut } from '../session.ts'
import { BlockedUsers, DeleteAccount, Devices } from './account.tsx'
import { Avatar } from './avatar.tsx'

type Result = { ok: string } | { error: string } | null

function Outcome ({ result }: { result: Result }) {
  if (result === null) return null
  return 'ok' in result ? <p class='ok' role='status'>{result.ok}</p> : <p class='error' role='alert'>{result.error}</p>
}

const outcome = (error: string | null, ok: string): Result => error === null ? { ok } : { error }

export function ProfilePanel ({ me, blocked }: { me: User, blocked: PublicUser[] }) {
  const picker = useRef<HTMLInputElement>(null)
  const [avatarResult, setAvatarResult] = useState<Result>(null)
  const [profileResult, setProfileResult] = useState<Result>(null)
  const [passwordResult, setPasswordResult] = useState<Result>(null)

  async function saveProfile (e: Event) {
    e.preventDefault()
    const form = new FormData(e.currentTarget as HTMLFormElement)
    const username = String(form.get('username'))
    const email = String(form.get('email'))
    const currentPassword = String(form.get('currentPassword'))
    const change = {
      ...(username !== me.username ? { username } : {}),
      ...(email !== me.email ? { email, currentPassword } : {})
    }
    if (Object.keys(change).length === 0) return setProfileResult({ ok: 'Nothing to change.' })
    setProfileResult(outcome(await updateProfile(change), 'Profile saved.'))
  }

  async function savePassword (e: Event) {
    e.preventDefault()
    const formElement = e.currentTarget as HTMLFormElement
    const form = new FormData(formElement)
    const error = await updateProfile({ currentPassword: String(form.get('currentPassword')), password: String(form.get('password')) })
    if (error === null) formElement.reset()
    setPasswordResult(outcome(error, 'Password changed. Your other sessions were signed out.'))
  }

  return (
    <div class='profile'>
      <section aria-label='Avatar' class='avatar-edit'>
        <Avatar name={me.username} url={me.avatarUrl} />
        <button type='button' onClick={() => picker.current?.click()}>Change avatar</button>
        <input
          ref={picker} type='file' accept='image/png,image/jpeg,image/gif,image/webp' hidden aria-label='Avatar image'
          onChange={(e) => {
            const file = e.currentTarget.files?.[0]
            e.currentTarget.value = ''
            if (file) void changeAvatar(file).then((error) => setAvatarResult(outcome(error, 'Avatar changed.')))
          }}
        />
        <Outcome result={avatarResult} />
      </section>
      <form onSubmit={(e) => { void saveProfile(e) }} aria-label='Profile'>
        <h2>Profile</h2>
        <label>Username <input name='username' defaultValue={me.username} required minLength={2} maxLength={32} autocomplete='username' /></label>
        <label>Email <input name='email' type='email' defaultValue={me.email} required maxLength={254} autocomplete='email' /></label>
        <label>Current password <small>(to change the email)</small> <input name='currentPassword' type='password' maxLength={256} autocomplete='current-password' /></label>
        <Outcome result={profileResult} />
        <button type='submit'>Save profile</button>
      </form>
      <form onSubmit={(e) => { void savePassword(e) }} aria-label='Password'>
        <h2>Password</h2>
        <label>Current password <input name='currentPassword' type='password' required maxLength={256} autocomplete='current-password' /></label>
        <label>New password <input name='password' type='password' required minLength={8} maxLength={256} autocomplete='new-password' /></label>
        <Outcome result={passwordResult} />
        <button type='submit'>Change password</button>
      </form>
      <Devices />
      <BlockedUsers blocked={blocked} />
      <button type='button' class='sign-out' onClick={() => { void signOut() }}>Sign out</button>
      <DeleteAccount />
    </div>
  )
}
