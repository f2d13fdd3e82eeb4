// Sign in, or create an account.
import { useState } from 'preact/hooks'
import { signIn, signUp } from '../session.ts'

export function SignIn ({ notice }: { notice: string | null }) {
  const [mode, setMode] = useState<'in' | 'up'>('in')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)

  async function submit (e: Event) {
    e.preventDefault()
    const form = new FormData(e.currentTarget as HTMLFormElement)
    const field = (name: string) => String(form.get(name) ?? '')
    setBusy(true)
    const failure = mode === 'in' ? await signIn(field('username'), field('password')) : await signUp(field('username'), field('email'), field('password'))
    setBusy(false)
    setError(failure)
  }

  return (
    <main class='sign-in'>
      <h1>Chat</h1>
      {notice !== null && <p class='notice' role='status'>{notice}</p>}
      <form onSubmit={(e) => { void submit(e) }} aria-label={mode === 'in' ? 'Sign in' : 'Create an account'}>
        <h2>{mode === 'in' ? 'Sign in' : 'Create an account'}</h2>
        <label>Username <input name='username' autocomplete='username' required minLength={2} maxLength={32} /></label>
        {mode === 'up' && <label>Email <input name='email' type='email' autocomplete='email' required maxLength={254} /></label>}
        <label>Password <input name='password' type='password' autocomplete={mode === 'in' ? 'current-password' : 'new-password'} required minLength={mode === 'up' ? 8 : 1} maxLength={256} /></label>
        {error !== null && <p class='error' role='alert'>{error}</p>}
        <button type='submit' class='primary' disabled={busy}>{mode === 'in' ? 'Sign in' : 'Create account'}</button>
      </form>
      <p>
        {mode === 'in' ? 'New here? ' : 'Have an account? '}
        <button type='button' class='link' onClick={() => { setMode(mode === 'in' ? 'up' : 'in'); setError(null) }}>
          {mode === 'in' ? 'Create an account' : 'Sign in'}
        </button>
      </p>
    </main>
  )
}
