// Writing: Enter sends, Shift+Enter starts a new line; files and images through the picker (or dropped on the chat).
import { useRef, useState } from 'preact/hooks'
import { sendFile, sendText, typing } from '../actions.ts'

const MAX_LENGTH = 10_000

export function Composer ({ peerId }: { peerId: string }) {
  const [text, setText] = useState('')
  const picker = useRef<HTMLInputElement>(null)

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
