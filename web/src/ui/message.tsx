// One message: text, an inline image (opens full size) or a file link; time and read ticks on mine; reactions;
// its actions (react, edit my text, delete for me or, mine, for everyone) behind one button.
import { useEffect, useRef, useState } from 'preact/hooks'
import { deleteMessage, deliver, discard, editMessage, react } from '../actions.ts'
import type { FileRef, Message } from '../api.ts'
import { formatSize, linkExpired } from '../files.ts'
import type { Pending } from '../store.ts'
import { freshFile, refreshLinks } from '../sync.ts'
import { time } from './format.ts'

export interface Viewing { url: string, name: string }

const EMOJI = ['👍', '❤️', '😂', '😮', '😢']

export function MessageItem ({ message, me, highlight, onView }: { message: Message, me: string, highlight: boolean, onView: (v: Viewing) => void }) {
  const mine = message.senderId === me
  const peerId = mine ? message.receiverId : message.senderId
  const [menu, setMenu] = useState(false)
  const [editing, setEditing] = useState(false)
  const [error, setError] = useState<string | null>(null)

  async function run (task: Promise<string | null>) {
    setMenu(false)
    setError(await task)
  }

  function remove (forWhom: 'me' | 'everyone') {
    if (confirm(forWhom === 'me' ? 'Delete this message for you?' : 'Delete this message for everyone?')) void run(deleteMessage(peerId, message.id, forWhom))
  }

  return (
    <li class={`msg${mine ? ' mine' : ''}${highlight ? ' found' : ''}`} data-id={message.id}>
      <div class='bubble'>
        {message.kind === 'text' && (editing
          ? <EditForm message={message} onDone={(err) => { setEditing(false); setError(err) }} />
          : <p class='text'>{message.content}</p>)}
        {message.kind === 'image' && message.file && <InlineImage file={message.file} peerId={peerId} messageId={message.id} onView={onView} />}
        {message.kind === 'file' && message.file && <FileLink file={message.file} peerId={peerId} messageId={message.id} />}
        <span class='meta'>
          {message.editedAt !== null && <span class='edited'>edited</span>}
          <time dateTime={message.createdAt}>{time(message.createdAt)}</time>
          {mine && (message.readAt === null
            ? <span class='tick' role='img' aria-label='Sent'>✓</span>
            : <span class='tick read' role='img' aria-label='Read'>✓✓</span>)}
        </span>
        {message.reactions.length > 0 && (
          <span class='reactions'>
            {message.reactions.map((r) => {
              const reacted = r.userIds.includes(me)
              return (
                <button
                  type='button' key={r.emoji} class={reacted ? 'reaction on' : 'reaction'} aria-pressed={reacted}
                  aria-label={`${r.emoji} ${r.userIds.length}`} onClick={() => { void run(react(message.id, r.emoji, !reacted)) }}
                >{r.emoji} {r.userIds.length}
                </button>
              )
            })}
          </span>
        )}
        {error !== null && <p class='error' role='alert'>{error}</p>}
      </div>
      <button type='button' class='msg-more' aria-label='Message actions' aria-expanded={menu} onClick={() => setMenu(!menu)}>⋯</button>
      {menu && (
        <div class='msg-menu' role='group' aria-label='Message actions'>
          {EMOJI.map((emoji) => (
            <button type='button' key={emoji} aria-label={`React ${emoji}`} onClick={() => { void run(react(message.id, emoji, true)) }}>{emoji}</button>
          ))}
          {mine && message.kind === 'text' && <button type='button' onClick={() => { setMenu(false); setEditing(true) }}>Edit</button>}
          <button type='button' onClick={() => remove('me')}>Delete for me</button>
          {mine && <button type='button' onClick={() => remove('everyone')}>Delete for everyone</button>}
        </div>
      )}
    </li>
  )
}

function EditForm ({ message, onDone }: { message: Message, onDone: (error: string | null) => void }) {
  const [text, setText] = useState(message.content ?? '')
  async function save (e: Event) {
    e.preventDefault()
    if (text.trim() === '' || text === message.content) return onDone(null)
    onDone(await editMessage(message.id, text))
  }
  return (
    <form class='edit' onSubmit={(e) => { void save(e) }}>
      <textarea
        aria-label='Edit message' value={text} maxLength={10_000} autofocus
        onInput={(e) => setText(e.currentTarget.value)}
        onKeyDown={(e) => { if (e.key === 'Escape') onDone(null); else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) void save(e) }}
      />
      <button type='submit' class='primary'>Save</button>
      <button type='button' onClick={() => onDone(null)}>Cancel</button>
    </form>
  )
}

/**
 * The thumbnail; when it fails to load (its signed link expired in a long-open chat) fresh links are fetched, once.
 * Opening it full size checks the link's expiry first.
 */
function InlineImage ({ file, peerId, messageId, onView }: { file: FileRef, peerId: string, messageId: string, onView: (v: Viewing) => void }) {
  const retried = useRef(false)
  const onError = () => {
    if (retried.current) return
    retried.current = true
    void refreshLinks(peerId, messageId)
  }
  const open = async () => {
    const fresh = await freshFile(peerId, messageId) ?? file
    onView({ url: fresh.downloadUrl, name: fresh.name })
  }
  return (
    <button type='button' class='image' aria-label={`Open image ${file.name}`} onClick={() => { void open() }}>
      <img src={file.thumbnailUrl ?? file.downloadUrl} alt={file.name} onError={onError} />
    </button>
  )
}

/** A download through the signed link; an expired link is fetched again before the download starts. */
function FileLink ({ file, peerId, messageId }: { file: FileRef, peerId: string, messageId: string }) {
  const following = useRef(false)
  async function download (e: MouseEvent) {
    const link = e.currentTarget as HTMLAnchorElement
    if (following.current || !linkExpired(link.href)) return // the browser follows it
    e.preventDefault()
    const fresh = await freshFile(peerId, messageId) ?? file
    link.href = fresh.downloadUrl
    following.current = true // the click below is dispatched at once: this handler lets it through
    link.click()
    following.current = false
  }
  return (
    <a class='file' href={file.downloadUrl} download={file.name} aria-label={`Download ${file.name}, ${formatSize(file.size)}`} onClick={(e) => { void download(e) }}>
      <span class='file-name'>{file.name}</span> <span class='file-size'>{formatSize(file.size)}</span>
    </a>
  )
}

export function PendingItem ({ pending }: { pending: Pending }) {
  return (
    <li class='msg mine pending' data-id={pending.id}>
      <div class='bubble'>
        <p class='text'>{pending.kind === 'text' ? pending.content : `${pending.content}${pending.file ? ` (${formatSize(pending.file.size)})` : ''}`}</p>
        {pending.file && pending.status === 'sending' && <progress max={1} value={pending.progress} aria-label={`Uploading ${pending.content}`} />}
        <span class='meta'>{pending.status === 'sending' ? 'Sending…' : ''}</span>
        {pending.status === 'failed' && (
          <p class='error' role='alert'>
            {pending.error}{' '}
            {pending.retryable && <button type='button' class='link' onClick={() => { void deliver(pending) }}>Retry</button>}{' '}
            <button type='button' class='link' onClick={() => discard(pending.id)}>Dismiss</button>
          </p>
        )}
      </div>
    </li>
  )
}

export function ImageViewer ({ viewing, onClose }: { viewing: Viewing, onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null)
  useEffect(() => { dialog.current?.showModal() }, [])
  return (
    <dialog ref={dialog} class='viewer' aria-label={viewing.name} onClose={onClose} onClick={(e) => { if (e.target === dialog.current) dialog.current?.close() }}>
      <img src={viewing.url} alt={viewing.name} />
      <button type='button' class='close' onClick={() => dialog.current?.close()} autofocus>Close</button>
    </dialog>
  )
}
