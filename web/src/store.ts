// The app's state in one object, replaced on every change; components read it through useAppState().
import { useEffect, useState } from 'preact/hooks'
import type { Contact, Conversation, Message, PublicUser, User } from './api.ts'

/** A message on its way: shown at the bottom of its chat until the server's copy (same id) arrives. */
export interface Pending {
  id: string
  peerId: string
  kind: 'text' | 'file' | 'image'
  content: string
  file?: File
  progress: number
  status: 'sending' | 'failed'
  error?: string
  /** false when resending cannot help (the server refused it). */
  retryable: boolean
  /** The server's error code when it refused it (BLOCKED: resent by "Try again" once unblocked). */
  code?: string
}

export interface Thread {
  /** Oldest first. */
  messages: Message[]
  hasMore: boolean
  loadingOlder: boolean
}

export type Tab = 'chats' | 'contacts' | 'profile'

export interface State {
  me: User | null
  /** Set while restoring a stored session, so the sign-in form does not flash. */
  restoring: boolean
  contacts: Contact[]
  conversations: Conversation[]
  threads: Record<string, Thread>
  pending: Pending[]
  /** Live online status by user id, from REST loads and presence events. */
  online: Record<string, boolean>
  activePeer: string | null
  /** A message picked in search results: the open chat scrolls to it and marks it. */
  highlight: string | null
  /** Peers typing to me: until when (ms since the epoch) to show it, from `typing` events. */
  typing: Record<string, number>
  /** The users I have blocked (GET /blocks), by username. */
  blocked: PublicUser[]
  /** Peers a send to was refused with BLOCKED (they blocked me, or I them on another device): the composer says so. */
  refused: Record<string, true>
  tab: Tab
  live: 'connecting' | 'live' | 'offline'
  notice: string | null
}

export const initialState = (): State => ({
  me: null,
  restoring: false,
  contacts: [],
  conversations: [],
  threads: {},
  pending: [],
  online: {},
  activePeer: null,
  highlight: null,
  typing: {},
  blocked: [],
  refused: {},
  tab: 'chats',
  live: 'connecting',
  notice: null
})

let state = initialState()
const listeners = new Set<() => void>()

export function getState (): State { return state }

export function update (change: Partial<State> | ((s: State) => Partial<State>)): void {
  state = { ...state, ...(typeof change === 'function' ? change(state) : change) }
  for (const listener of listeners) listener()
}

export function resetState (patch: Partial<State> = {}): void {
  update({ ...initialState(), ...patch })
}

export function useAppState (): State {
  const [, setTick] = useState(0)
  useEffect(() => {
    const listener = () => setTick((n) => n + 1)
    listeners.add(listener)
    return () => { listeners.delete(listener) }
  }, [])
  return state
}
