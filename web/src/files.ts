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
