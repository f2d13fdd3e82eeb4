// The shell: sign-in when signed out; otherwise the sidebar (chats, contacts, profile) beside the open chat.
import { type State, type Tab, update, useAppState } from '../store.ts'
import { Avatar } from './avatar.tsx'
import { ChatView } from './chat.tsx'
import { ContactsPanel } from './contacts.tsx'
import { ConversationsPanel } from './conversations.tsx'
import { ProfilePanel } from './profile.tsx'
import { SignIn } from './sign-in.tsx'

const TABS: Array<[Tab, string]> = [['chats', 'Chats'], ['contacts', 'Contacts'], ['profile', 'Profile']]
const LIVE_TEXT = { connecting: 'Connecting…', live: 'Live', offline: 'Offline' }

export function App () {
  const state = useAppState()
  if (state.restoring) return <p class='loading'>Loading…</p>
  if (state.me === null) return <SignIn notice={state.notice} />
  return <Main state={state} />
}

function Main ({ state }: { state: State }) {
  const me = state.me!
  return (
    <div class={state.activePeer === null ? 'app' : 'app chat-open'}>
      <aside class='sidebar'>
        <header class='sidebar-head'>
          <Avatar name={me.username} url={me.avatarUrl} />
          <strong class='me-name'>{me.username}</strong>
          <span class={`live live-${state.live}`} role='status'>{LIVE_TEXT[state.live]}</span>
        </header>
        <nav class='tabs' role='tablist' aria-label='Sections'>
          {TABS.map(([tab, label]) => (
            <button key={tab} type='button' role='tab' id={`tab-${tab}`} aria-selected={state.tab === tab} aria-controls='panel' onClick={() => update({ tab })}>
              {label}
              {tab === 'chats' && <UnreadTotal state={state} />}
            </button>
          ))}
        </nav>
        <div class='panel' id='panel' role='tabpanel' aria-labelledby={`tab-${state.tab}`}>
          {state.tab === 'chats' && <ConversationsPanel state={state} />}
          {state.tab === 'contacts' && <ContactsPanel state={state} />}
          {state.tab === 'profile' && <ProfilePanel me={me} blocked={state.blocked} />}
        </div>
      </aside>
      <main class='chat-pane'>
        {state.activePeer === null
          ? <p class='empty'>Choose a conversation, or a contact to write to.</p>
          : <ChatView key={state.activePeer} state={state} peerId={state.activePeer} />}
      </main>
    </div>
  )
}

function UnreadTotal ({ state }: { state: State }) {
  const total = state.conversations.reduce((sum, c) => sum + c.unreadCount, 0)
  return total > 0 ? <span class='badge' aria-label={`${total} unread`}>{total}</span> : null
}
