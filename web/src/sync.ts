// Keeps the state in step with the server: REST loads, then live events applied idempotently (by id and time),
// so an event that a load already included changes nothing.
import { api, type Conversation, type FileRef, type Message, type StreamEvent } from './api.ts'
import { linkExpired } from './files.ts'
import { Live } from './live.ts'
import { getState, type State, type Thread, update } from './store.ts'

let live: Live | null = null
let loading = 0
const held: StreamEvent[] = []

export const PAGE_SIZE = 50

/**
 * Runs a REST load while holding live events back, then applies them: a load that read the database before
 * an event's change and answered after it would otherwise overwrite that change.
 */
async function holdingEvents<T> (task: () => Promise<T>): Promise<T> {
  loading++
  try {
    return await task()
  } finally {
    loading--
    // An event may start another load (a conversation not seen before): the rest then wait for that one.
    while (held.length > 0) {
      if (loading > 0) break
      apply(held.shift()!)
    }
  }
}

export function startSync (): void {
  stopSync()
  live = new Live({
    onEvent: (event) => { if (loading > 0) held.push(event); else apply(event) },
    onReady: (fresh) => { void (fresh ? loadAll() : refreshContacts()) },
    onStatus: (status) => update({ live: status }),
    // A failed connect may mean a revoked session: any REST call finds out (401 ends the session).
    onConnectFailed: () => { void api.GET('/users/me').catch(() => {}) }
  })
  live.start()
  addEventListener('visibilitychange', markActiveRead)
}

export function stopSync (): void {
  live?.stop()
  live = null
  held.length = 0
  removeEventListener('visibilitychange', markActiveRead)
}

const me = (): string => getState().me?.id ?? ''
const peerOf = (m: Message): string => m.senderId === me() ? m.receiverId : m.senderId
const byTime = (a: Message, b: Message): number => a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
const byActivity = (a: Conversation, b: Conversation): number => (b.lastMessage?.createdAt ?? '').localeCompare(a.lastMessage?.createdAt ?? '')

function merge (messages: Message[], incoming: Message[]): Message[] {
  const map = new Map(messages.map((m) => [m.id, m]))
  for (const m of incoming) map.set(m.id, m)
  return [...map.values()].sort(byTime)
}

function onlineFrom (users: Array<{ id: string, online: boolean }>): Record<string, boolean> {
  return Object.fromEntries(users.map((u) => [u.id, u.online]))
}

/** Everything, by REST: on sign-in, and when the stream says its resume point was lost (`reset`). */
export async function loadAll (): Promise<void> {
  await holdingEvents(async () => {
    const [meRes, contactsRes, conversationsRes, blocksRes] = await Promise.all([api.GET('/users/me'), api.GET('/contacts'), api.GET('/conversations'), api.GET('/blocks')])
    if (!meRes.data || !contactsRes.data || !conversationsRes.data || !blocksRes.data) return
    const contacts = contactsRes.data.contacts
    const conversations = conversationsRes.data.conversations
    update((s) => ({
      me: meRes.data,
      contacts,
      conversations,
      blocked: blocksRes.data.users,
      threads: {},
      online: { ...s.online, ...onlineFrom(conversations.map((c) => c.peer)), ...onlineFrom(contacts.map((c) => ({ id: c.contactId, online: c.online }))) }
    }))
    const peer = getState().activePeer
    if (peer !== null) await loadThread(peer)
  })
}

export async function refreshContacts (): Promise<void> {
  const { data } = await api.GET('/contacts')
  if (data) update((s) => ({ contacts: data.contacts, online: { ...s.online, ...onlineFrom(data.contacts.map((c) => ({ id: c.contactId, online: c.online }))) } }))
}

/** Whom I have blocked: on sign-in, after I block or unblock, and on block.added/removed from my other devices. */
export async function refreshBlocks (): Promise<void> {
  const { data } = await api.GET('/blocks')
  if (data) update({ blocked: data.users })
}

export async function refreshConversations (): Promise<void> {
  await holdingEvents(async () => {
    const { data } = await api.GET('/conversations')
    if (data) update({ conversations: data.conversations })
  })
}

async function loadThread (peerId: string): Promise<void> {
  const { data } = await api.GET('/conversations/{peerId}/messages', { params: { path: { peerId }, query: { limit: PAGE_SIZE } } })
  if (!data) return
  update((s) => ({ threads: { ...s.threads, [peerId]: { messages: merge(s.threads[peerId]?.messages ?? [], data.messages), hasMore: data.hasMore, loadingOlder: false } } }))
}

function setThread (s: State, peerId: string, change: Partial<Thread>): Partial<State> {
  const thread = s.threads[peerId]
  return thread ? { threads: { ...s.threads, [peerId]: { ...thread, ...change } } } : {}
}

export async function openChat (peerId: string): Promise<void> {
  update({ activePeer: peerId, highlight: null })
  if (!getState().threads[peerId]) await holdingEvents(() => loadThread(peerId))
  markActiveRead()
}

const olderLoads = new Map<string, Promise<void>>()

/** The page before the oldest loaded message (the load already under way, if any). */
export function loadOlder (peerId: string): Promise<void> {
  let load = olderLoads.get(peerId)
  if (load === undefined) {
    load = loadOlderPage(peerId).finally(() => olderLoads.delete(peerId))
    olderLoads.set(peerId, load)
  }
  return load
}

async function loadOlderPage (peerId: string): Promise<void> {
  const thread = getState().threads[peerId]
  const oldest = thread?.messages[0]
  if (!thread || !thread.hasMore || thread.loadingOlder || !oldest) return
  update((s) => setThread(s, peerId, { loadingOlder: true }))
  try {
    const { data } = await api.GET('/conversations/{peerId}/messages', { params: { path: { peerId }, query: { before: oldest.id, limit: PAGE_SIZE } } })
    update((s) => setThread(s, peerId, data ? { messages: merge(s.threads[peerId]?.messages ?? [], data.messages), hasMore: data.hasMore, loadingOlder: false } : { loadingOlder: false }))
  } catch {
    update((s) => setThread(s, peerId, { loadingOlder: false }))
  }
}

/** Opens the chat with a message found by search, paging back (up to 20 pages) until it is loaded; the chat scrolls to it. */
export async function showMessage (peerId: string, messageId: string): Promise<void> {
  const opening = openChat(peerId)
  update({ highlight: messageId })
  await opening
  for (let pages = 0; pages < 20; pages++) {
    const thread = getState().threads[peerId]
    if (getState().highlight !== messageId || !thread || !thread.hasMore || thread.messages.some((m) => m.id === messageId)) return
    await loadOlder(peerId)
  }
}

const refreshing = new Map<string, Promise<void>>()

/**
 * Signed file links expire (GET /limits fileUrlTtlSeconds): when an image of a long-open chat fails to load, or a
 * link about to be followed has expired, reload the page of history that holds the message (the messages before the
 * next newer one), which comes with fresh links.
 */
export function refreshLinks (peerId: string, messageId: string): Promise<void> {
  const messages = getState().threads[peerId]?.messages ?? []
  const index = messages.findIndex((m) => m.id === messageId)
  if (index < 0) return Promise.resolve()
  const newer = messages[index + 1]?.id
  const key = `${peerId} ${newer ?? ''}`
  let load = refreshing.get(key) // other images of the same page failed too: one load serves them all
  if (load === undefined) {
    load = holdingEvents(async () => {
      const { data } = await api.GET('/conversations/{peerId}/messages', { params: { path: { peerId }, query: { ...(newer === undefined ? {} : { before: newer }), limit: PAGE_SIZE } } })
      if (data) update((s) => setThread(s, peerId, { messages: merge(s.threads[peerId]?.messages ?? [], data.messages) }))
    }).catch(() => {}).finally(() => refreshing.delete(key))
    refreshing.set(key, load)
  }
  return load
}

/** A message's file with links that have not expired (fetched again when they have). */
export async function freshFile (peerId: string, messageId: string): Promise<FileRef | null> {
  const file = () => getState().threads[peerId]?.messages.find((m) => m.id === messageId)?.file ?? null
  const current = file()
  if (current === null || !linkExpired(current.downloadUrl)) return current
  await refreshLinks(peerId, messageId)
  return file()
}

const viewing = (peerId: string): boolean => getState().activePeer === peerId && document.visibilityState === 'visible'

/** Marks read everything the peer sent in the open chat, when the page is visible. */
export function markActiveRead (): void {
  const s = getState()
  const peerId = s.activePeer
  if (peerId === null || !viewing(peerId)) return
  const unread = (s.threads[peerId]?.messages ?? []).filter((m) => m.senderId === peerId && m.readAt === null)
  const newest = unread[unread.length - 1]
  if (!newest) return
  update({ conversations: s.conversations.map((c) => c.peer.id === peerId ? { ...c, unreadCount: 0 } : c) })
  api.POST('/conversations/{peerId}/read', { params: { path: { peerId } }, body: { upTo: newest.id } }).catch(() => {})
}

/** A message from a response or an event: into its thread (if loaded) and its conversation; replaces a pending copy. */
export function upsertMessage (m: Message): void {
  const peerId = peerOf(m)
  const incoming = m.senderId === peerId
  const s = getState()
  const conversation = s.conversations.find((c) => c.peer.id === peerId)
  let conversations = s.conversations
  if (conversation) {
    const last = conversation.lastMessage
    if (last?.id === m.id) {
      conversations = conversations.map((c) => c === conversation ? { ...c, lastMessage: m } : c)
    } else if (last === null || m.createdAt > last.createdAt) {
      const unread = incoming && !viewing(peerId) && m.readAt === null ? 1 : 0
      conversations = conversations.map((c) => c === conversation ? { ...c, lastMessage: m, unreadCount: c.unreadCount + unread } : c).sort(byActivity)
    }
  }
  update({
    conversations,
    threads: s.threads[peerId] ? { ...s.threads, [peerId]: { ...s.threads[peerId], messages: merge(s.threads[peerId].messages, [m]) } } : s.threads,
    pending: s.pending.filter((p) => p.id !== m.id)
  })
  if (!conversation) void refreshConversations() // a new conversation: its peer comes with it
  if (incoming) markActiveRead()
}

/** A message gone for me (deleted by me, or for everyone by its sender): out of its thread; the server has the conversation's new last message and count. */
export function removeMessage (peerId: string, messageId: string): void {
  update((s) => ({
    ...setThread(s, peerId, { messages: (s.threads[peerId]?.messages ?? []).filter((m) => m.id !== messageId) }),
    pending: s.pending.filter((p) => p.id !== messageId)
  }))
  void refreshConversations()
}

/** A message went through between us: sends to this peer are not refused (any more). */
export function allowed (peerId: string): void {
  if (getState().refused[peerId] === undefined) return
  update((s) => ({ refused: Object.fromEntries(Object.entries(s.refused).filter(([id]) => id !== peerId)) }))
}

// How long "typing…" shows after a `typing: true`, unless `false` or the message comes first: the sender repeats
// `true` every 3 s while typing (actions.ts), and the server documents that `true` holds for 6 s.
const TYPING_MS = 6000
const typingTimers = new Map<string, ReturnType<typeof setTimeout>>()

function setTyping (userId: string, typing: boolean): void {
  clearTimeout(typingTimers.get(userId))
  update((s) => ({ typing: { ...s.typing, [userId]: typing ? Date.now() + TYPING_MS : 0 } }))
  if (typing) typingTimers.set(userId, setTimeout(() => setTyping(userId, false), TYPING_MS))
}

function apply (event: StreamEvent): void {
  switch (event.event) {
    case 'message.created':
      upsertMessage(event.data)
      setTyping(event.data.senderId, false)
      allowed(peerOf(event.data))
      break
    case 'message.updated':
      upsertMessage(event.data)
      break
    case 'message.deleted':
      removeMessage(event.data.peerId, event.data.messageId)
      break
    case 'typing':
      setTyping(event.data.userId, event.data.typing)
      break
    case 'message.read': {
      const ids = new Set(event.data.messageIds)
      const readAt = event.data.readAt
      const mark = (m: Message): Message => ids.has(m.id) && m.readAt === null ? { ...m, readAt } : m
      update((s) => ({
        threads: Object.fromEntries(Object.entries(s.threads).map(([peer, t]) => [peer, { ...t, messages: t.messages.map(mark) }])),
        conversations: s.conversations.map((c) => c.lastMessage ? { ...c, lastMessage: mark(c.lastMessage) } : c)
      }))
      // Read on another device of mine: the server has the unread counts.
      if (event.data.readerId === me()) void refreshConversations()
      break
    }
    case 'history.cleared': {
      const { peerId, clearedAt } = event.data
      update((s) => ({
        ...setThread(s, peerId, { messages: (s.threads[peerId]?.messages ?? []).filter((m) => m.createdAt > clearedAt) }),
        conversations: s.conversations.map((c) => c.peer.id === peerId && c.lastMessage !== null && c.lastMessage.createdAt <= clearedAt ? { ...c, lastMessage: null, unreadCount: 0 } : c)
      }))
      break
    }
    case 'contact.added': {
      const contact = event.data
      update((s) => ({
        contacts: [...s.contacts.filter((c) => c.contactId !== contact.contactId), contact].sort((a, b) => a.username.localeCompare(b.username)),
        online: { ...s.online, [contact.contactId]: contact.online }
      }))
      break
    }
    case 'contact.removed':
      update((s) => ({ contacts: s.contacts.filter((c) => c.contactId !== event.data.contactId) }))
      break
    case 'profile.updated':
      update({ me: event.data })
      break
    case 'user.deleted': {
      const gone = event.data.userId
      update((s) => ({
        contacts: s.contacts.filter((c) => c.contactId !== gone),
        conversations: s.conversations.filter((c) => c.peer.id !== gone),
        threads: Object.fromEntries(Object.entries(s.threads).filter(([peer]) => peer !== gone)),
        activePeer: s.activePeer === gone ? null : s.activePeer
      }))
      break
    }
    case 'block.added':
    case 'block.removed':
      // Blocked on another device of mine: the blocked user now shows offline (or again online) in my lists.
      void refreshBlocks()
      void refreshContacts()
      void refreshConversations()
      if (event.event === 'block.removed') allowed(event.data.userId)
      break
    case 'presence':
      update((s) => ({ online: { ...s.online, [event.data.userId]: event.data.online } }))
      break
    case 'reset':
      void loadAll()
      break
    case 'session.revoked':
      // session.ts ends the session (an event rather than an import: session.ts starts this module).
      dispatchEvent(new CustomEvent('chat:revoked'))
      break
    default:
      break // an event type this client does not know yet
  }
}
