// The open conversation: history (newest at the bottom, older pages on scroll up), sending, drag and drop.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import { clearConversation, sendFile } from '../actions.ts'
import type { PublicUser } from '../api.ts'
import { type State, update } from '../store.ts'
import { loadOlder } from '../sync.ts'
import { Avatar } from './avatar.tsx'
import { Composer } from './composer.tsx'
import { ImageViewer, MessageItem, PendingItem, type Viewing } from './message.tsx'
import { MessageSearch } from './search.tsx'

function peerOf (state: State, peerId: string): PublicUser | null {
  const conversation = state.conversations.find((c) => c.peer.id === peerId)
  if (conversation) return conversation.peer
  const contact = state.contacts.find((c) => c.contactId === peerId)
  return contact ? { id: contact.contactId, username: contact.username, avatarUrl: contact.avatarUrl, online: contact.online } : null
}

export function ChatView ({ state, peerId }: { state: State, peerId: string }) {
  const peer = peerOf(state, peerId)
  const thread = state.threads[peerId]
  const pending = state.pending.filter((p) => p.peerId === peerId && !thread?.messages.some((m) => m.id === p.id))
  const [dragging, setDragging] = useState(false)
  const [viewing, setViewing] = useState<Viewing | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [searching, setSearching] = useState(false)
  const list = useRef<HTMLDivElement>(null)
  const anchor = useRef({ first: '', height: 0, atBottom: true })
  const online = state.online[peerId] ?? peer?.online ?? false
  const name = peer?.username ?? '…'

  // Keep the view where the reader is: at the bottom for new messages, in place when older ones are prepended.
  const messages = thread?.messages ?? []
  useLayoutEffect(() => {
    const el = list.current
    if (!el) return
    const first = messages[0]?.id ?? ''
    if (anchor.current.first !== '' && first !== anchor.current.first && !anchor.current.atBottom) {
      el.scrollTop += el.scrollHeight - anchor.current.height
    } else if (anchor.current.atBottom) {
      el.scrollTop = el.scrollHeight
    }
    anchor.current = { first, height: el.scrollHeight, atBottom: anchor.current.atBottom }
    if (thread?.hasMore && el.scrollHeight <= el.clientHeight) void loadOlder(peerId)
  }, [messages, pending.length, thread?.hasMore])

  // Images decode after the list is laid out: stay at the bottom as they grow it.
  useEffect(() => {
    const el = list.current
    if (!el) return
    const observer = new ResizeObserver(() => {
      if (anchor.current.atBottom) el.scrollTop = el.scrollHeight
      anchor.current.height = el.scrollHeight
    })
    observer.observe(el.querySelector('ol')!)
    return () => observer.disconnect()
  }, [])

  // A message picked in search results: scroll to it once it is loaded.
  const shown = useRef<string | null>(null)
  useEffect(() => {
    const id = state.highlight
    if (id === null || shown.current === id) return
    const item = list.current?.querySelector(`[data-id="${CSS.escape(id)}"]`)
    if (!item) return
    shown.current = id
    anchor.current.atBottom = false
    item.scrollIntoView({ block: 'center' })
  }, [state.highlight, messages])

  function onScroll () {
    const el = list.current!
    anchor.current.atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40
    anchor.current.height = el.scrollHeight
    if (el.scrollTop < 80) void loadOlder(peerId)
  }

  function onDrop (e: DragEvent) {
    e.preventDefault()
    setDragging(false)
    for (const file of e.dataTransfer?.files ?? []) sendFile(peerId, file)
  }

  async function clear () {
    if (confirm(`Clear your conversation with ${name}? Only your copy is cleared.`)) setError(await clearConversation(peerId))
  }

  return (
    <section
      class={dragging ? 'chat dragging' : 'chat'} aria-label={`Conversation with ${name}`}
      onDragOver={(e) => { e.preventDefault(); setDragging(true) }} onDragLeave={() => setDragging(false)} onDrop={onDrop}
    >
      <header class='chat-head'>
        <button type='button' class='back' aria-label='Back to the list' onClick={() => update({ activePeer: null })}>←</button>
        <Avatar name={name} url={peer?.avatarUrl ?? null} online={online} />
        <span class='chat-title'>
          <strong>{name}</strong>
          <span class='row-sub' aria-live='polite'>{(state.typing[peerId] ?? 0) > Date.now() ? 'typing…' : online ? 'online' : 'offline'}</span>
        </span>
        <button type='button' aria-label='Search this conversation' aria-expanded={searching} aria-controls={searching ? 'chat-search' : undefined} onClick={() => setSearching(!searching)}>Search</button>
        <button type='button' aria-label='Clear conversation' onClick={() => { void clear() }}>Clear</button>
      </header>
      {searching && (
        <div id='chat-search' class='chat-search'>
          <MessageSearch peerId={peerId} me={state.me?.id ?? ''} nameOf={() => name} label={`Search messages with ${name}`} focus />
        </div>
      )}
      {error !== null && <p class='error' role='alert'>{error}</p>}
      <div class='messages' ref={list} onScroll={onScroll} role='log' aria-label='Messages' tabIndex={0}>
        {thread?.loadingOlder && <p class='older'>Loading older messages…</p>}
        {thread && !thread.hasMore && messages.length > 0 && <p class='older'>Start of the conversation</p>}
        {!thread && <p class='older'>Loading…</p>}
        <ol>
          {messages.map((m) => <MessageItem key={m.id} message={m} me={state.me?.id ?? ''} highlight={m.id === state.highlight} onView={setViewing} />)}
          {pending.map((p) => <PendingItem key={p.id} pending={p} />)}
        </ol>
      </div>
      <Composer peerId={peerId} name={name} blockedByMe={state.blocked.some((u) => u.id === peerId)} refused={state.refused[peerId] === true} />
      {dragging && <p class='drop-hint' aria-hidden='true'>Drop files to send them to {name}</p>}
      {viewing && <ImageViewer viewing={viewing} onClose={() => setViewing(null)} />}
    </section>
  )
}
