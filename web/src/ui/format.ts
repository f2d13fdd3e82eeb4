// Small display helpers shared by the panels.
import type { Message } from '../api.ts'

export function preview (m: Message | null): string {
  if (m === null) return ''
  if (m.kind === 'text') return m.content ?? ''
  return m.kind === 'image' ? `Image: ${m.file?.name ?? ''}` : `File: ${m.file?.name ?? ''}`
}

export function time (iso: string): string {
  const date = new Date(iso)
  const today = new Date().toDateString() === date.toDateString()
  return today ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : date.toLocaleDateString([], { month: 'short', day: 'numeric' })
}
