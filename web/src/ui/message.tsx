// One message: text, an inline image (opens full size) or a file link; time and read ticks on mine.
import { useEffect, useRef } from 'preact/hooks'
import { deliver, discard } from '../actions.ts'
import type { FileRef, Message } from '../api.ts'
import { formatSize } from '../files.ts'
import type { Pending } from '../store.ts'
import { time } from './format.ts'

export interface Viewing { url: string, name: string }

export function MessageItem ({ message, mine, onView }: { message: Message, mine: boolean, onView: (v: Viewing) => void }) {
  return (
    <li class={mine ? 'msg mine' : 'msg'} data-id={message.id}>
      <div class='bubble'>
        {message.kind === 'text' && <p class='text'>{message.content}</p>}
        {message.kind === 'image' && message.file && <InlineImage file={message.file} onView={onView} />}
        {message.kind === 'file' && message.file && <FileLink file={message.file} />}
        <span class='meta'>
          <time dateTime={message.createdAt}>{time(message.createdAt)}</time>
          {mine && (message.readAt === null
            ? <span class='tick' role='img' aria-label='Sent'>✓</span>
            : <span class='tick read' role='img' aria-label='Read'>✓✓</span>)}
        </span>
      </div>
    </li>
  )
}

function InlineImage ({ file, onView }: { file: FileRef, onView: (v: Viewing) => void }) {
  return (
    <button type='button' class='image' aria-label={`Open image ${file.name}`} onClick={() => onView({ url: file.downloadUrl, name: file.name })}>
      <img src={file.thumbnailUrl ?? file.downloadUrl} alt={file.name} />
    </button>
  )
}

function FileLink ({ file }: { file: FileRef }) {
  return (
    <a class='file' href={file.downloadUrl} download={file.name} aria-label={`Download ${file.name}, ${formatSize(file.size)}`}>
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
