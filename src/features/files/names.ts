// File names: sanitizing uploaded names for storage and display, and the Content-Disposition header (RFC 6266).
import { storable } from '../../schemas/common.ts'

const MAX_NAME_BYTES = 255
const FALLBACK_NAME = 'file'
// Control characters (NUL included) and the bidi controls that can disguise an extension ("gpj.exe").
const UNSAFE = /[\p{Cc}\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu

/** The base name only, without control characters, at most 255 UTF-8 bytes (keeping a short extension), or "file". */
export function sanitizeFileName (raw: string | undefined): string {
  if (raw === undefined) return FALLBACK_NAME
  // Browsers (and fetch's FormData) send " CR LF in a part's filename as %22 %0D %0A (HTML's multipart/form-data encoding).
  const base = storable(raw).replaceAll('%22', '"').replace(/%0[ad]/gi, '').split(/[/\\]/).pop() ?? ''
  const name = base.replace(UNSAFE, '').trim()
  if (name === '' || name === '.' || name === '..') return FALLBACK_NAME
  return truncateUtf8(name, MAX_NAME_BYTES)
}

function truncateUtf8 (name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name
  const dot = name.lastIndexOf('.')
  const extension = dot > 0 && Buffer.byteLength(name.slice(dot)) <= 16 ? name.slice(dot) : ''
  const stemBudget = maxBytes - Buffer.byteLength(extension)
  let stem = ''
  let bytes = 0
  for (const char of extension === '' ? name : name.slice(0, dot)) {
    const size = Buffer.byteLength(char)
    if (bytes + size > stemBudget) break
    stem += char
    bytes += size
  }
  return stem + extension
}

/** RFC 5987 encoding: everything outside attr-char percent-encoded as UTF-8. */
function encodeRfc5987 (value: string): string {
  return encodeURIComponent(value).replace(/['()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())
}

/** `attachment` or `inline` with a quoted ASCII fallback name and, for other names, `filename*=UTF-8''...`. */
export function contentDisposition (type: 'attachment' | 'inline', name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_')
  const header = `${type}; filename="${ascii}"`
  return ascii === name ? header : `${header}; filename*=UTF-8''${encodeRfc5987(name)}`
}

const EXTENSIONS: Record<string, string[]> = {
  'image/jpeg': ['.jpg', '.jpeg', '.jpe', '.jfif'],
  'image/png': ['.png'],
  'image/gif': ['.gif'],
  'image/webp': ['.webp']
}
const IMAGE_EXTENSION = /\.(jpe?g|jpe|jfif|png|gif|webp|bmp|tiff?|heic|heif|avif|svg)$/i

/**
 * The name a download is saved under: a file's name as sent; an image's name ending in the extension of its real
 * type (a wrong image extension replaced, any other kept and the right one appended); a thumbnail's as WebP.
 */
export function downloadName (file: { name: string, kind: string, mimeType: string }, variant: 'original' | 'thumbnail'): string {
  if (file.kind === 'file' && variant === 'original') return file.name
  const extensions = variant === 'thumbnail' ? ['.webp'] : EXTENSIONS[file.mimeType]
  if (extensions === undefined) return file.name
  const stem = variant === 'thumbnail' ? `${file.name.replace(IMAGE_EXTENSION, '')}.thumbnail` : file.name
  if (extensions.some((extension) => stem.toLowerCase().endsWith(extension))) return stem
  return truncateUtf8(stem.replace(IMAGE_EXTENSION, '') + extensions[0]!, MAX_NAME_BYTES)
}
