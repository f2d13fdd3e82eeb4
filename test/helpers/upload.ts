// Multipart uploads as a browser or a generated client sends them (fetch + FormData), and sample image bytes.

export interface UploadOptions {
  bytes: Uint8Array
  name?: string
  type?: string
  /** The optional message id field, sent before the file. */
  id?: string
  /** Extra form fields, sent before the file. */
  fields?: Record<string, string>
  /** Part name of the file (default "file"). */
  part?: string
}

export interface UploadResult {
  status: number
  body: any
}

export function uploadForm (options: UploadOptions): FormData {
  const form = new FormData()
  if (options.id !== undefined) form.append('id', options.id)
  for (const [key, value] of Object.entries(options.fields ?? {})) form.append(key, value)
  form.append(options.part ?? 'file', new Blob([options.bytes], { type: options.type ?? 'application/octet-stream' }), options.name ?? 'file.bin')
  return form
}

export async function upload (baseUrl: string, token: string, path: string, options: UploadOptions, method = 'POST'): Promise<UploadResult> {
  const response = await fetch(new URL(path, baseUrl), { method, body: uploadForm(options), headers: { authorization: `Bearer ${token}` } })
  return { status: response.status, body: await response.json() }
}

/** A real 1x1 PNG. */
export const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64')
/** A real 1x1 GIF. */
export const GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64')
/** A real 2x1 JPEG (images are decoded and re-encoded at upload: a signature followed by noise is refused). */
export const JPEG = Buffer.from('/9j/2wBDAAYEBQYFBAYGBQYHBwYIChAKCgkJChQODwwQFxQYGBcUFhYaHSUfGhsjHBYWICwgIyYnKSopGR8tMC0oMCUoKSj/2wBDAQcHBwoIChMKChMoGhYaKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCgoKCj/wAARCAABAAIDASIAAhEBAxEB/8QAFQABAQAAAAAAAAAAAAAAAAAAAAf/xAAUEAEAAAAAAAAAAAAAAAAAAAAA/8QAFQEBAQAAAAAAAAAAAAAAAAAABgj/xAAUEQEAAAAAAAAAAAAAAAAAAAAA/9oADAMBAAIRAxEAPwCdABykX//Z', 'base64')
/** A real 2x1 WebP. */
export const WEBP = Buffer.from('UklGRjwAAABXRUJQVlA4IDAAAADQAQCdASoCAAEAAUAmJaACdLoB+AADsAD+8ut//NgVzXPv9//S4P0uD9Lg/9KQAAA=', 'base64')
