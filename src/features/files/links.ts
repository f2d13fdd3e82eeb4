// Signed file links: `/files/{id}` and `/files/{id}/thumbnail` with `exp` and `sig`, usable without a token
// (`<img src>`, plain links) until they expire. Links are signed as they leave the server (responses and stream
// frames), never stored signed: a replayed event gets links as fresh as a new one.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto'

/**
 * What a link opens: a file's bytes, its thumbnail, or a file only as long as it is an avatar. Avatar links are
 * signed apart because users set avatarUrl themselves: a `/files/{id}` naming someone else's message file must
 * not become a working link to it.
 */
export type LinkVariant = 'original' | 'thumbnail' | 'avatar'

/**
 * A link field in serialized JSON whose value is a `/files/{id}` path (possibly signed already). The key must be
 * one of ours: a quote inside any user-written string is escaped in JSON, so text can never look like a key.
 */
const LINK_FIELD = /"(downloadUrl|thumbnailUrl|avatarUrl)":"\/files\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(\/thumbnail)?(?:\?[^"\\]*)?"/g
const EXP = /^\d{1,12}$/
const SIG = /^[A-Za-z0-9_-]{43}$/

/** The signing key, derived from the server secret so that no second secret has to be configured and shared. */
export function deriveLinkKey (serverSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', serverSecret, '', 'chat file links v1', 32))
}

export class FileLinks {
  /** Expiries are rounded up to this step: links handed out close together are identical, so browsers cache the bytes. */
  private readonly stepSeconds: number

  constructor (
    private readonly key: Buffer,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now
  ) {
    this.stepSeconds = Math.min(300, Math.floor(ttlSeconds / 10))
  }

  /** The expiry of a link handed out now: at least ttlSeconds away. */
  expiry (): number {
    const exp = Math.ceil(this.now() / 1000) + this.ttlSeconds
    return this.stepSeconds > 1 ? Math.ceil(exp / this.stepSeconds) * this.stepSeconds : exp
  }

  sign (fileId: string, variant: LinkVariant, exp = this.expiry()): string {
    const path = variant === 'thumbnail' ? `/files/${fileId}/thumbnail` : `/files/${fileId}`  // 'avatar' shares the original's path
    return `${path}?exp=${exp}&sig=${this.mac(fileId, variant, exp)}`
  }

  /** True when `sig` signs this file, variant and expiry, and the expiry has not passed. */
  verify (fileId: string, variant: LinkVariant, exp: string | undefined, sig: string | undefined): boolean {
    if (exp === undefined || sig === undefined || !EXP.test(exp) || !SIG.test(sig)) return false
    if (Number(exp) * 1000 <= this.now()) return false
    const expected = Buffer.from(this.mac(fileId, variant, Number(exp)))
    return timingSafeEqual(expected, Buffer.from(sig))
  }

  /** Re-signs every link field of serialized JSON; most payloads name no file and are returned as they are. */
  signJson (json: string): string {
    if (!json.includes('/files/')) return json
    let exp: number | undefined
    return json.replace(LINK_FIELD, (_match, field: string, fileId: string, thumbnail: string | undefined) => {
      exp ??= this.expiry()
      const variant = field === 'avatarUrl' ? 'avatar' : thumbnail === undefined ? 'original' : 'thumbnail'
      return `"${field}":"${this.sign(fileId, variant, exp)}"`
    })
  }

  private mac (fileId: string, variant: LinkVariant, exp: number): string {
    return createHmac('sha256', this.key).update(`${fileId}\n${variant}\n${exp}`).digest('base64url')
  }
}
