// Server-Sent Events parsing as a browser's EventSource does it, without I/O: text in, frames out.

export interface SseFrame {
  id?: string
  event: string
  data: string
}

export type SseItem =
  | { type: 'frame', frame: SseFrame }
  | { type: 'comment', text: string }
  | { type: 'retry', ms: number }

/** Feed it the decoded text of a stream in chunks of any size; each call answers what the chunk completed. */
export class SseParser {
  private buffer = ''
  private current: { id?: string, event?: string, dataLines?: string[] } = {}

  push (chunk: string): SseItem[] {
    const items: SseItem[] = []
    this.buffer += chunk
    let index: number
    while ((index = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, index).replace(/\r$/, '')
      this.buffer = this.buffer.slice(index + 1)
      if (line === '') {
        // A blank line ends a frame; one without data lines (a retry or a comment alone) dispatches nothing.
        if (this.current.dataLines !== undefined) {
          items.push({ type: 'frame', frame: { id: this.current.id, event: this.current.event ?? 'message', data: this.current.dataLines.join('\n') } })
        }
        this.current = {}
        continue
      }
      if (line.startsWith(':')) {
        items.push({ type: 'comment', text: line.slice(1).trim() })
        continue
      }
      const colon = line.indexOf(':')
      const field = colon < 0 ? line : line.slice(0, colon)
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'data') (this.current.dataLines ??= []).push(value)
      else if (field === 'event') this.current.event = value
      else if (field === 'id') this.current.id = value
      else if (field === 'retry') items.push({ type: 'retry', ms: Number(value) })
    }
    return items
  }
}
