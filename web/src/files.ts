// File bytes through the signed links the server hands out (FileRef.downloadUrl/thumbnailUrl, avatarUrl):
// they need no token, so <img src> and <a href> use them directly (same origin: the CSP's img-src 'self').

/** An avatarUrl of this server (a signed `/files/{id}?...` link), or null for anything else. */
export function localImage (url: string | null): string | null {
  return url !== null && url.startsWith('/files/') ? url : null
}

export function formatSize (bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`
}

/** True when a signed link's `exp` (Unix seconds) has passed or is a few seconds away, by this device's clock. */
export function linkExpired (url: string): boolean {
  const exp = Number(new URL(url, location.origin).searchParams.get('exp'))
  return exp > 0 && exp * 1000 < Date.now() + 5000
}
