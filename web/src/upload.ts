// Multipart uploads with progress: fetch cannot report upload progress, so these go through XMLHttpRequest.
import type { paths } from '../../openapi/schema.d.ts'
import { type ApiError, getToken } from './api.ts'

type Json<T> = T extends { content: { 'application/json': infer B } } ? B : never
type SendFileOk = Json<paths['/conversations/{peerId}/files']['post']['responses'][201]>
type AvatarOk = Json<paths['/users/me/avatar']['put']['responses'][200]>

export type UploadResult<T> = { data: T, error?: undefined } | { data?: undefined, error: ApiError }

/** Thrown when the request never got an answer (offline, connection lost): the send may be retried with the same id. */
export class NetworkError extends Error {}

function send<T> (method: string, url: string, form: FormData, onProgress?: (fraction: number) => void): Promise<UploadResult<T>> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open(method, url)
    const token = getToken()
    if (token !== null) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.responseType = 'json'
    if (onProgress) xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total) }
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve({ data: xhr.response as T })
      else resolve({ error: (xhr.response ?? { statusCode: xhr.status, code: 'INTERNAL_ERROR', error: 'Error', message: `The server answered ${xhr.status}` }) as ApiError })
    }
    xhr.onerror = () => reject(new NetworkError('No connection'))
    xhr.send(form)
  })
}

/** POST /conversations/{peerId}/files or /images: the id field goes first, as the server reads it before the file. */
export function uploadMessageFile (peerId: string, kind: 'files' | 'images', id: string, file: File, onProgress: (fraction: number) => void): Promise<UploadResult<SendFileOk>> {
  const form = new FormData()
  form.append('id', id)
  form.append('file', file, file.name)
  return send<SendFileOk>('POST', `/conversations/${encodeURIComponent(peerId)}/${kind}`, form, onProgress)
}

export function uploadAvatar (file: File): Promise<UploadResult<AvatarOk>> {
  const form = new FormData()
  form.append('file', file, file.name)
  return send<AvatarOk>('PUT', '/users/me/avatar', form)
}
