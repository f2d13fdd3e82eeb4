// Watches every HTTP response body a test file receives through fetch, so a test can assert at the end
// that no password or password hash was ever sent back.
const bodies: Array<{ url: string, body: string }> = []
const original = globalThis.fetch

let installed = false

/** Records response bodies of every fetch from now on (the typed client uses the global fetch). */
export function recordResponses (): void {
  if (installed) return
  installed = true
  globalThis.fetch = async (input, init) => {
    const response = await original(input, init)
    const url = input instanceof Request ? input.url : String(input)
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      bodies.push({ url, body: await response.clone().text() })
    }
    return response
  }
}

/** The recorded responses whose body contains one of the needles. */
export function responsesContaining (needles: string[]): Array<{ url: string, needle: string }> {
  const found: Array<{ url: string, needle: string }> = []
  for (const { url, body } of bodies) {
    for (const needle of needles) if (body.includes(needle)) found.push({ url, needle })
  }
  return found
}

export function recordedCount (): number {
  return bodies.length
}
