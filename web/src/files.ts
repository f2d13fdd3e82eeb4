// File bytes need the bearer token (GET /files/{id}): images are fetched once and shown as data: URLs
// (the server's Content Security Policy allows data: images), downloads are saved from a blob.
import { useEffect, useState } from 'preact/hooks'
import { api } from './api.ts'

const cache = new Map<string, Promise<string | null>>()

async function fetchBlob (fileId: string): Promise<Blob | null> {
  const { data } = await api.GET('/files/{fileId}', { params: { path: { fileId } }, parseAs: 'blob' })
  return data ?? null
}

function toDataUrl (blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader()
    reader.onload = () => resolve(reader.result as string)
    reader.onerror = () => reject(reader.error)
    reader.readAsDataURL(blob)
  })
}

function imageUrl (fileId: string): Promise<string | null> {
  let url = cache.get(fileId)
  if (!url) {
    url = fetchBlob(fileId).then((blob) => blob ? toDataUrl(blob) : null).catch(() => null)
    cache.set(fileId, url)
    void url.then((value) => { if (value === null) cache.delete(fileId) }) // try again next time
  }
  return url
}

/** The id in an avatarUrl or file url of this server (`/files/{id}`, signed or not), or null for anything else. */
export function fileIdOf (url: string | null): string | null {
  return /^\/files\/([0-9a-f-]{36})(\?|$)/.exec(url ?? '')?.[1] ?? null
}

/** A data: URL for a stored image, or null while it loads (or when it cannot be read). */
export function useImage (fileId: string | null): string | null {
  const [src, setSrc] = useState<string | null>(null)
  useEffect(() => {
    setSrc(null)
    if (fileId === null) return
    let live = true
    void imageUrl(fileId).then((url) => { if (live) setSrc(url) })
    return () => { live = false }
  }, [fileId])
  return src
}

/** Saves a file under its name. */
export async function download (fileId: string, name: string): Promise<void> {
  const blob = await fetchBlob(fileId)
  if (!blob) return
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.click()
  setTimeout(() => URL.revokeObjectURL(url), 10_000)
}

export function formatSize (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}
