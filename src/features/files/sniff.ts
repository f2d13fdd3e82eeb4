// What the first bytes of an upload say it is, judged by file-type.
import { fileTypeFromBuffer } from 'file-type'

/** The media type the bytes show, or undefined when they show none or are too few to tell (a signature cut short). */
export async function sniffedType (head: Uint8Array): Promise<string | undefined> {
  try {
    return (await fileTypeFromBuffer(head))?.mime
  } catch {
    // file-type throws when the bytes end inside a header it recognised (its EndOfStreamError).
    return undefined
  }
}
