// GET /limits: no token needed, and it answers what the server was configured with and enforces.
import tap from 'tap'
import { startApp } from './helpers/app.ts'
import { apiClient, registerUser } from './helpers/client.ts'

tap.test('GET /limits equals the configuration the app was built with', async (t) => {
  const { baseUrl, config } = await startApp(t, { maxUploadBytes: 12345, maxStreamsPerUser: 7, storageQuotaBytes: 999_999, fileUrlTtlSeconds: 120 })
  const { data, response } = await apiClient(baseUrl).GET('/limits')
  t.equal(response.status, 200, 'no token needed')
  t.same(data, {
    maxUploadBytes: config.maxUploadBytes,
    maxMessageLength: 10000,
    usernameLength: { min: 2, max: 32 },
    passwordLength: { min: 8, max: 256 },
    imageTypes: ['image/png', 'image/jpeg', 'image/gif', 'image/webp'],
    historyPageMax: 200,
    maxStreamsPerUser: 7,
    storageQuotaBytes: 999_999,
    fileUrlTtlSeconds: 120
  })
  t.equal(config.maxUploadBytes, 12345)

  // The values are the ones enforced: one past each is refused.
  const user = await registerUser(baseUrl)
  const peer = await registerUser(baseUrl)
  await user.api.POST('/contacts', { body: { userId: peer.id } })
  const send = (content: string) => user.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: peer.id } }, body: { content } })
  t.equal((await send('x'.repeat(data!.maxMessageLength))).response.status, 201, 'maxMessageLength is accepted')
  t.equal((await send('x'.repeat(data!.maxMessageLength + 1))).response.status, 400, 'one more is 400')
  const history = (limit: number) => user.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: peer.id }, query: { limit } } })
  t.equal((await history(data!.historyPageMax)).response.status, 200)
  t.equal((await history(data!.historyPageMax + 1)).response.status, 400)
  const tooLong = await apiClient(baseUrl).POST('/auth/register', { body: { username: 'u'.repeat(data!.usernameLength.max + 1), password: 'x'.repeat(data!.passwordLength.min), email: 'limits@example.com' } })
  t.equal(tooLong.response.status, 400, 'a username over the maximum is 400')
  const form = new FormData()
  form.append('file', new Blob([new Uint8Array(data!.maxUploadBytes + 1)]), 'big.bin')
  const upload = await fetch(new URL(`/conversations/${peer.id}/files`, baseUrl), { method: 'POST', body: form, headers: { authorization: `Bearer ${user.token}` } })
  t.equal(upload.status, 413, 'an upload over maxUploadBytes is 413')
})

tap.test('GET /limits with the default configuration', async (t) => {
  // The test apps lift the stream limit out of the way of other tests: put the contract's default back.
  const { baseUrl } = await startApp(t, { maxStreamsPerUser: 20 })
  const { data } = await apiClient(baseUrl).GET('/limits')
  t.match(data, { maxUploadBytes: 26214400, maxStreamsPerUser: 20, storageQuotaBytes: 1073741824, fileUrlTtlSeconds: 3600 })
})
