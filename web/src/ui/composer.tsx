// Writing: Enter sends, Shift+Enter starts a new line; files and images through the picker (or dropped on the chat).
// While a block stands between us the box gives way to a sentence saying so (with Unblock, or Try again).
import { useEffect, useRef, useState } from 'preact/hooks'
import { retryRefused, sendFile, sendText, setBlocked, typing } from '../actions.ts'

const MAX_LENGTH = 10_000

/** `blockedByMe`: I blocked this peer. `refused`: the server refused a send to them as BLOCKED (they blocked me). */
export function Composer ({ peerId, name, blockedByMe, refused }: { peerId: string, name: string, blockedByMe: boolean, refused: boolean }) {
  const [text, setText] = useState('')
  const [error, setError] = useState<string | null>(null)
  const picker = useRef<HTMLInputElement>(null)
  useEffect(() => () => typing(peerId, false), [peerId])

  if (blockedByMe || refused) {
    return (
      <div class='composer blocked' role='status'>
        <p>
          {blockedByMe
            ? `You blocked ${name}: neither of you can send to the other.`
            : `You can't send messages to ${name}: one of you has blocked the other.`}
        </p>
        {error !== null && <p class='error' role='alert'>{error}</p>}
        {blockedByMe
          ? <button type='button' onClick={() => { void setBlocked(peerId, false).then(setError) }}>Unblock {name}</button>
          : <button type='button' onClick={() => retryRefused(peerId)}>Try again</button>}
      </div>
    )
  }

  function submit (e?: Event) {
    e?.preventDefault()
    if (text.trim() === '') return
    typing(peerId, false)
    sendText(peerId, text)
    setText('')
  }

  function onKeyDown (e: KeyboardEvent) {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) submit(e)
  }

  return (
    <form class='composer' onSubmit={submit}>
      <button type='button' class='attach' aria-label='Attach a file or image' onClick={() => picker.current?.click()}>Attach</button>
      <input
        ref={picker} type='file' multiple hidden aria-label='Files to send'
        onChange={(e) => { for (const file of e.currentTarget.files ?? []) sendFile(peerId, file); e.currentTarget.value = '' }}
      />
      <textarea
        aria-label='Message' placeholder='Write a message' rows={1} maxLength={MAX_LENGTH} value={text}
        onInput={(e) => { setText(e.currentTarget.value); typing(peerId, e.currentTarget.value.trim() !== '') }}
        onKeyDown={onKeyDown} onBlur={() => typing(peerId, false)}
      />
      <button type='submit' class='primary' disabled={text.trim() === ''}>Send</button>
    </form>
  )
}
