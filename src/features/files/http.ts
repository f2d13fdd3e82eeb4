// HTTP's conditional and partial requests for downloads: If-None-Match, Range and If-Range (RFC 9110 13-14).
import type { ByteRange } from './storage.ts'

/** Weak comparison (RFC 9110 8.8.3.2), as If-None-Match asks for. */
export function noneMatchHolds (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const opaque = etag.replace(/^W\//, '')
  return ifNoneMatch.split(',').some((candidate) => {
    const tag = candidate.trim()
    return tag === '*' || tag.replace(/^W\//, '') === opaque
  })
}

const SINGLE_RANGE = /^bytes=(\d*)-(\d*)$/

/**
 * The range a request asks for: undefined for the whole file (no Range, If-Range not current, or a Range this
 * server may ignore: another unit, several ranges, bad syntax), 'unsatisfiable' when it lies outside the file.
 */
export function requestedRange (range: string | undefined, ifRange: string | undefined, etag: string, size: number): ByteRange | 'unsatisfiable' | undefined {
  if (range === undefined) return undefined
  // If-Range with a strong comparison: a client holding other bytes gets the whole new file.
  if (ifRange !== undefined && ifRange.trim() !== etag) return undefined
  const match = SINGLE_RANGE.exec(range.replace(/\s+/g, ''))
  if (match === null) return undefined
  const [, first, last] = match as unknown as [string, string, string]
  if (first === '' && last === '') return undefined
  if (first === '') {
    // A suffix: the last N bytes.
    const length = Number(last)
    if (length === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - length), end: size - 1 }
  }
  const start = Number(first)
  const end = last === '' ? size - 1 : Number(last)
  if (last !== '' && end < start) return undefined
  if (start >= size) return 'unsatisfiable'
  return { start, end: Math.min(end, size - 1) }
}
