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

/** "Chrome on Linux" from a User-Agent header, or the header itself when neither part is recognised. */
export function deviceName (userAgent: string | null): string {
  if (userAgent === null || userAgent.trim() === '') return 'Unknown device'
  const browser = [[/Edg\//, 'Edge'], [/OPR\//, 'Opera'], [/Firefox\//, 'Firefox'], [/Chrom(e|ium)\//, 'Chrome'], [/Safari\//, 'Safari'], [/^curl\//, 'curl']] as const
  const system = [[/Android/, 'Android'], [/iPhone|iPad/, 'iOS'], [/Windows/, 'Windows'], [/Mac OS X|Macintosh/, 'macOS'], [/CrOS/, 'ChromeOS'], [/Linux/, 'Linux']] as const
  const b = browser.find(([pattern]) => pattern.test(userAgent))?.[1]
  const s = system.find(([pattern]) => pattern.test(userAgent))?.[1]
  if (b === undefined && s === undefined) return userAgent
  return b !== undefined && s !== undefined ? `${b} on ${s}` : (b ?? s)!
}

/** Date and time, for lists of devices. */
export function dateTime (iso: string): string {
  return new Date(iso).toLocaleString([], { dateStyle: 'medium', timeStyle: 'medium' })
}
