// What the user does: send (with a client id, so a retry is stored once), edit, delete, react, typing, contacts,
// blocking, clearing, search, profile, devices, deleting the account.
import { api, errorText, getToken, type Message, newId, type SessionInfo } from './api.ts'
import { formatSize } from './files.ts'
import { getState, type Pending, update } from './store.ts'
import { allowed, refreshBlocks, refreshContacts, refreshConversations, removeMessage, upsertMessage } from './sync.ts'
import { NetworkError, uploadAvatar, uploadMessageFile } from './upload.ts'

function setPending (id: string, change: Partial<Pending>): void {
  update((s) => ({ pending: s.pending.map((p) => p.id === id ? { ...p, ...change } : p) }))
}

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp']

export function sendText (peerId: string, content: string): void {
  const pending: Pending = { id: newId(), peerId, kind: 'text', content, progress: 0, status: 'sending', retryable: true }
  update((s) => ({ pending: [...s.pending, pending] }))
  void deliver(pending)
}

export function sendFile (peerId: string, file: File): void {
  const kind = IMAGE_TYPES.includes(file.type) ? 'image' : 'file'
  const pending: Pending = { id: newId(), peerId, kind, content: file.name, file, progress: 0, status: 'sending', retryable: true }
  update((s) => ({ pending: [...s.pending, pending] }))
  void deliver(pending)
}

let maxUpload: Promise<number | null> | null = null

/** The server's upload limit (GET /limits), read once; null when it could not be read (the server still says 413). */
function maxUploadBytes (): Promise<number | null> {
  maxUpload ??= api.GET('/limits').then(({ data }) => data?.maxUploadBytes ?? null, () => null)
  void maxUpload.then((value) => { if (value === null) maxUpload = null }) // try again next time
  return maxUpload
}

/** Why a file cannot be sent or set, when it is over the server's limit (checked before any byte is sent). */
async function tooLarge (file: File): Promise<string | null> {
  const max = await maxUploadBytes()
  return max !== null && file.size > max ? `${file.name} is larger than this server accepts (at most ${formatSize(max)})` : null
}

/** Sends (or resends, with the same id) a pending message. */
export async function deliver (pending: Pending): Promise<void> {
  setPending(pending.id, { status: 'sending', error: undefined, progress: 0 })
  const { peerId, id } = pending
  const offline = { status: 'failed', retryable: true, error: 'Not sent: no connection. It is sent again when the connection is back.' } as const
  if (!navigator.onLine) return setPending(id, offline) // the 'online' listener below sends it
  const over = pending.file ? await tooLarge(pending.file) : null
  if (over !== null) return setPending(id, { status: 'failed', retryable: false, error: `Not sent: ${over}` })
  try {
    const { data, error } = pending.file
      ? await uploadMessageFile(peerId, pending.kind === 'image' ? 'images' : 'files', id, pending.file, (progress) => setPending(id, { progress }))
      : await api.POST('/conversations/{peerId}/messages', { params: { path: { peerId } }, body: { id, content: pending.content } })
    if (data) {
      allowed(peerId)
      return upsertMessage(data)
    }
    const tooLarge = error.statusCode === 413
    setPending(id, {
      status: 'failed',
      retryable: error.statusCode >= 500 || error.statusCode === 429,
      code: error.code,
      error: tooLarge ? `Not sent: ${pending.content} is larger than this server accepts (${error.message})` : `Not sent: ${errorText(error)}`
    })
    if (error.code === 'BLOCKED') update((s) => ({ refused: { ...s.refused, [peerId]: true } }))
  } catch (err) {
    if (!(err instanceof NetworkError) && !(err instanceof TypeError)) throw err
    setPending(id, offline)
  }
}

/** After a send was refused as BLOCKED: try the refused messages to this peer again (the block may be lifted). */
export function retryRefused (peerId: string): void {
  const refused = getState().pending.filter((p) => p.peerId === peerId && p.code === 'BLOCKED')
  allowed(peerId)
  for (const p of refused) void deliver(p)
}

export function discard (id: string): void {
  update((s) => ({ pending: s.pending.filter((p) => p.id !== id) }))
}

// Back online: resend what failed for lack of a connection (same ids: the server stores each once).
addEventListener('online', () => {
  for (const p of getState().pending) if (p.status === 'failed' && p.retryable) void deliver(p)
})

export async function clearConversation (peerId: string): Promise<string | null> {
  const { error } = await api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId } } })
  if (error) return errorText(error)
  await refreshConversations()
  return null
}

export async function addContact (userId: string): Promise<string | null> {
  const { data, error } = await api.POST('/contacts', { body: { userId } })
  if (error) return errorText(error)
  update((s) => ({
    contacts: [...s.contacts.filter((c) => c.contactId !== data.contactId), data].sort((a, b) => a.username.localeCompare(b.username)),
    online: { ...s.online, [data.contactId]: data.online }
  }))
  return null
}

export async function removeContact (contactId: string): Promise<string | null> {
  const { error } = await api.DELETE('/contacts/{contactId}', { params: { path: { contactId } } })
  if (error) return errorText(error)
  update((s) => ({ contacts: s.contacts.filter((c) => c.contactId !== contactId) }))
  return null
}

/** Blocks (`on`) or unblocks a user; my lists change with it (a blocked user shows offline). */
export async function setBlocked (userId: string, on: boolean): Promise<string | null> {
  const params = { path: { userId } }
  const { error } = on ? await api.PUT('/blocks/{userId}', { params }) : await api.DELETE('/blocks/{userId}', { params })
  if (error) return errorText(error)
  if (!on) allowed(userId)
  await Promise.all([refreshBlocks(), refreshContacts(), refreshConversations()])
  return null
}

export const SEARCH_PAGE = 20

/** One page of my text messages containing `q`, newest first (in one conversation with `peerId`); `before` pages back. */
export async function searchMessages (q: string, peerId: string | null, before?: string): Promise<{ messages: Message[], hasMore: boolean } | { error: string }> {
  try {
    const { data, error } = await api.GET('/messages/search', { params: { query: { q, limit: SEARCH_PAGE, ...(peerId === null ? {} : { peerId }), ...(before === undefined ? {} : { before }) } } })
    return data ?? { error: errorText(error) }
  } catch {
    return { error: 'The server could not be reached.' }
  }
}

export async function listSessions (): Promise<SessionInfo[] | { error: string }> {
  try {
    const { data, error } = await api.GET('/auth/sessions')
    return data?.sessions ?? { error: errorText(error) }
  } catch {
    return { error: 'The server could not be reached.' }
  }
}

/** Signs out another device of mine, or (no id) every other one. */
export async function revokeSessions (sessionId?: string): Promise<string | null> {
  try {
    const { error } = sessionId === undefined
      ? await api.DELETE('/auth/sessions')
      : await api.DELETE('/auth/sessions/{sessionId}', { params: { path: { sessionId } } })
    return error ? errorText(error) : null
  } catch {
    return 'The server could not be reached.'
  }
}

/** Deletes my account for good (the password confirms it); null when it is gone. */
export async function deleteAccount (password: string): Promise<string | null> {
  try {
    const { error } = await api.DELETE('/users/me', { body: { password } })
    return error ? errorText(error) : null
  } catch {
    return 'The server could not be reached.'
  }
}

export async function searchUsers (prefix: string) {
  const { data } = await api.GET('/users', { params: { query: { search: prefix, limit: 10 } } })
  return data?.users ?? []
}

type ProfileChange = { username?: string, email?: string, password?: string, currentPassword?: string }

export async function updateProfile (change: ProfileChange): Promise<string | null> {
  const { data, error } = await api.PATCH('/users/me', { body: change })
  if (error) return errorText(error)
  update({ me: data })
  return null
}

export async function changeAvatar (file: File): Promise<string | null> {
  const over = await tooLarge(file)
  if (over !== null) return over
  try {
    const { data, error } = await uploadAvatar(file)
    if (error) return errorText(error)
    update({ me: data })
    return null
  } catch {
    return 'No connection: the avatar was not changed.'
  }
}

export async function editMessage (messageId: string, content: string): Promise<string | null> {
  const { data, error } = await api.PATCH('/messages/{messageId}', { params: { path: { messageId } }, body: { content } })
  if (error) return errorText(error)
  upsertMessage(data)
  return null
}

export async function deleteMessage (peerId: string, messageId: string, forWhom: 'me' | 'everyone'): Promise<string | null> {
  const { error } = await api.DELETE('/messages/{messageId}', { params: { path: { messageId }, query: { for: forWhom } } })
  if (error) return errorText(error)
  removeMessage(peerId, messageId)
  return null
}

/** Adds my reaction, or removes it when `on` is false. */
export async function react (messageId: string, emoji: string, on: boolean): Promise<string | null> {
  const params = { path: { messageId, emoji } }
  const { data, error } = on ? await api.PUT('/messages/{messageId}/reactions/{emoji}', { params }) : await api.DELETE('/messages/{messageId}/reactions/{emoji}', { params })
  if (error) return errorText(error)
  upsertMessage(data)
  return null
}

// Typing: `true` at once and again every 3 s while the user keeps typing (the peer shows it for 6 s, so one lost or
// coalesced request does not hide it), `false` once 5 s pass without input (seen at the next 3 s tick), on send, or on
// leaving the box. The requests to one peer go one after the other, so a `false` never overtakes the `true` before it.
const TYPING_EVERY_MS = 3000
const TYPING_IDLE_MS = 5000
const typists = new Map<string, { lastInput: number, timer: ReturnType<typeof setInterval> }>()
const typingQueue = new Map<string, Promise<void>>()

function postTyping (peerId: string, active: boolean): void {
  const send = async () => {
    if (!navigator.onLine || getToken() === null) return // offline or signed out: the peer's 6 s run out
    const s = getState()
    if (s.refused[peerId] === true || s.blocked.some((u) => u.id === peerId)) return // a block between us: it would be refused
    await api.POST('/conversations/{peerId}/typing', { params: { path: { peerId } }, body: { typing: active } }).catch(() => {})
  }
  const next = (typingQueue.get(peerId) ?? Promise.resolve()).then(send)
  typingQueue.set(peerId, next)
  void next.then(() => { if (typingQueue.get(peerId) === next) typingQueue.delete(peerId) })
}

export function typing (peerId: string, active: boolean): void {
  const typist = typists.get(peerId)
  if (!active) {
    if (typist === undefined) return
    clearInterval(typist.timer)
    typists.delete(peerId)
    return postTyping(peerId, false)
  }
  if (typist !== undefined) {
    typist.lastInput = Date.now()
    return
  }
  const entry = {
    lastInput: Date.now(),
    timer: setInterval(() => {
      if (Date.now() - entry.lastInput >= TYPING_IDLE_MS) typing(peerId, false)
      else postTyping(peerId, true)
    }, TYPING_EVERY_MS)
  }
  typists.set(peerId, entry)
  postTyping(peerId, true)
}
