// A user's picture (or initials) with an optional online dot.
import { localImage } from '../files.ts'

export function Avatar ({ name, url, online }: { name: string, url: string | null, online?: boolean }) {
  const src = localImage(url)
  return (
    <span class='avatar' aria-hidden={online === undefined ? 'true' : undefined}>
      {src === null ? <span class='initials'>{[...name][0]?.toUpperCase()}</span> : <img src={src} alt='' />}
      {online !== undefined && <span class={online ? 'dot online' : 'dot'} role='img' aria-label={online ? 'online' : 'offline'} />}
    </span>
  )
}
