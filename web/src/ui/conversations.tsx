// The conversation list, most recent activity first, with unread badges and the last message; above it, a search
// of all my messages.
import type { State } from '../store.ts'
import { openChat } from '../sync.ts'
import { Avatar } from './avatar.tsx'
import { preview, time } from './format.ts'
import { MessageSearch } from './search.tsx'

export function ConversationsPanel ({ state }: { state: State }) {
  const nameOf = (id: string) => state.conversations.find((c) => c.peer.id === id)?.peer.username ?? state.contacts.find((c) => c.contactId === id)?.username ?? '…'
  return (
    <>
      {state.conversations.length > 0 && <MessageSearch peerId={null} me={state.me?.id ?? ''} nameOf={nameOf} label='Search all messages' />}
      <Conversations state={state} />
    </>
  )
}

function Conversations ({ state }: { state: State }) {
  if (state.conversations.length === 0) return <p class='empty'>No conversations yet. Add a contact and say hello.</p>
  return (
    <ul class='list' aria-label='Conversations'>
      {state.conversations.map((c) => (
        <li key={c.peer.id}>
          <button type='button' class={state.activePeer === c.peer.id ? 'row active' : 'row'} aria-current={state.activePeer === c.peer.id ? 'true' : undefined} onClick={() => { void openChat(c.peer.id) }}>
            <Avatar name={c.peer.username} url={c.peer.avatarUrl} online={state.online[c.peer.id] ?? c.peer.online} />
            <span class='row-main'>
              <span class='row-title'>{c.peer.username}</span>
              <span class='row-sub'>{preview(c.lastMessage)}</span>
            </span>
            <span class='row-side'>
              {c.lastMessage && <time dateTime={c.lastMessage.createdAt}>{time(c.lastMessage.createdAt)}</time>}
              {c.unreadCount > 0 && <span class='badge' aria-label={`${c.unreadCount} unread`}>{c.unreadCount}</span>}
            </span>
          </button>
        </li>
      ))}
    </ul>
  )
}
