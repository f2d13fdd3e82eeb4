// Contacts: live online dots, add by username search, remove, block or unblock, open a chat.
import { useEffect, useState } from 'preact/hooks'
import { addContact, removeContact, searchUsers, setBlocked } from '../actions.ts'
import type { PublicUser } from '../api.ts'
import { type State, update } from '../store.ts'
import { openChat } from '../sync.ts'
import { Avatar } from './avatar.tsx'

export function ContactsPanel ({ state }: { state: State }) {
  const [error, setError] = useState<string | null>(null)
  const message = (id: string) => { update({ tab: 'chats' }); void openChat(id) }
  return (
    <div class='contacts'>
      <AddContact state={state} onError={setError} />
      {error !== null && <p class='error' role='alert'>{error}</p>}
      {state.contacts.length === 0
        ? <p class='empty'>No contacts yet.</p>
        : (
          <ul class='list' aria-label='Contacts'>
            {state.contacts.map((c) => {
              const blocked = state.blocked.some((u) => u.id === c.contactId)
              return (
                <li key={c.contactId} class='row'>
                  <Avatar name={c.username} url={c.avatarUrl} online={state.online[c.contactId] ?? c.online} />
                  <span class='row-main'>
                    <span class='row-title'>{c.username}</span>
                    {blocked && <span class='row-sub'>Blocked</span>}
                  </span>
                  <span class='row-actions'>
                    <button type='button' onClick={() => message(c.contactId)} aria-label={`Message ${c.username}`}>Message</button>
                    <button type='button' onClick={() => { if (confirm(`Remove ${c.username} from your contacts?`)) void removeContact(c.contactId).then(setError) }} aria-label={`Remove ${c.username}`}>Remove</button>
                    {blocked
                      ? <button type='button' onClick={() => { void setBlocked(c.contactId, false).then(setError) }} aria-label={`Unblock ${c.username}`}>Unblock</button>
                      : <button type='button' onClick={() => { if (confirm(`Block ${c.username}? Neither of you can send to the other until you unblock.`)) void setBlocked(c.contactId, true).then(setError) }} aria-label={`Block ${c.username}`}>Block</button>}
                  </span>
                </li>
              )
            })}
          </ul>
          )}
    </div>
  )
}

function AddContact ({ state, onError }: { state: State, onError: (error: string | null) => void }) {
  const [query, setQuery] = useState('')
  const [results, setResults] = useState<PublicUser[]>([])
  useEffect(() => {
    const prefix = query.trim()
    if (prefix === '') { setResults([]); return }
    let live = true
    const timer = setTimeout(() => { void searchUsers(prefix).then((users) => { if (live) setResults(users) }) }, 200)
    return () => { live = false; clearTimeout(timer) }
  }, [query])
  const isContact = (id: string) => state.contacts.some((c) => c.contactId === id)
  return (
    <section class='add-contact' aria-label='Add a contact'>
      <label>Find people <input type='search' value={query} placeholder='Username' maxLength={32} onInput={(e) => setQuery(e.currentTarget.value)} /></label>
      {results.length > 0 && (
        <ul class='list' aria-label='Search results'>
          {results.map((u) => (
            <li key={u.id} class='row'>
              <Avatar name={u.username} url={u.avatarUrl} />
              <span class='row-main'><span class='row-title'>{u.username}</span></span>
              {isContact(u.id)
                ? <span class='row-sub'>In your contacts</span>
                : <button type='button' aria-label={`Add ${u.username}`} onClick={() => { void addContact(u.id).then(onError) }}>Add</button>}
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}
