// Searching my text messages, in one conversation (`peerId`) or in all of them: newest first, "More results" pages
// back with `before`; picking a result opens its chat scrolled to it.
import { useEffect, useRef, useState } from 'preact/hooks'
import { searchMessages } from '../actions.ts'
import type { Message } from '../api.ts'
import { showMessage } from '../sync.ts'
import { time } from './format.ts'

interface Found { q: string, messages: Message[], hasMore: boolean }

/** `focus`: put the caret in the box when it appears (it was just asked for). */
export function MessageSearch ({ peerId, me, nameOf, label, focus = false }: {
  peerId: string | null
  me: string
  nameOf: (userId: string) => string
  label: string
  focus?: boolean
}) {
  const box = useRef<HTMLInputElement>(null)
  useEffect(() => { if (focus) box.current?.focus() }, [])
  const [query, setQuery] = useState('')
  const [found, setFound] = useState<Found | null>(null)
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)

  async function run (q: string, before?: string) {
    setBusy(true)
    setError(null)
    const result = await searchMessages(q, peerId, before)
    setBusy(false)
    if ('error' in result) return setError(result.error)
    setFound((f) => ({ q, messages: before === undefined || f === null ? result.messages : [...f.messages, ...result.messages], hasMore: result.hasMore }))
  }

  function submit (e: Event) {
    e.preventDefault()
    const q = query.trim()
    if (q === '') return setFound(null)
    void run(q)
  }

  const who = (m: Message) => {
    if (m.senderId !== me) return nameOf(m.senderId)
    return peerId === null ? `You to ${nameOf(m.receiverId)}` : 'You'
  }
  const last = found?.messages[found.messages.length - 1]

  return (
    <div class='search'>
      <form role='search' onSubmit={submit}>
        <input
          ref={box} type='search' aria-label={label} placeholder={label} value={query} maxLength={100}
          onInput={(e) => { setQuery(e.currentTarget.value); if (e.currentTarget.value === '') setFound(null) }}
        />
        <button type='submit' disabled={busy || query.trim() === ''}>Search</button>
      </form>
      {error !== null && <p class='error' role='alert'>{error}</p>}
      {found !== null && (
        <>
          <p class='found-count' role='status'>
            {found.messages.length === 0 ? `No messages with “${found.q}”.` : `${found.messages.length}${found.hasMore ? '+' : ''} found`}
          </p>
          {found.messages.length > 0 && (
            <ol class='list found' aria-label='Found messages'>
              {found.messages.map((m) => (
                <li key={m.id}>
                  <button type='button' class='row' onClick={() => { void showMessage(m.senderId === me ? m.receiverId : m.senderId, m.id) }}>
                    <span class='row-main'>
                      <span class='row-title'>{who(m)}</span>
                      <span class='found-text'><Marked text={m.content ?? ''} q={found.q} /></span>
                    </span>
                    <time class='row-side' dateTime={m.createdAt}>{time(m.createdAt)}</time>
                  </button>
                </li>
              ))}
            </ol>
          )}
          {found.hasMore && last && (
            <button type='button' class='more' disabled={busy} onClick={() => { void run(found.q, last.id) }}>More results</button>
          )}
        </>
      )}
    </div>
  )
}

/** The text with its first match of `q` marked (when lower-casing keeps the positions, as it does for most scripts). */
function Marked ({ text, q }: { text: string, q: string }) {
  const lower = text.toLowerCase()
  const at = lower.length === text.length ? lower.indexOf(q.toLowerCase()) : -1
  if (at < 0) return <>{text}</>
  return <>{text.slice(0, at)}<mark>{text.slice(at, at + q.length)}</mark>{text.slice(at + q.length)}</>
}
