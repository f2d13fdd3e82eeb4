// Files, images and avatars: uploads streamed to storage, byte-exact downloads with the right headers, who may
// download, and failed uploads (too large, not an image, bad form) leaving nothing behind.
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { existsSync, readdirSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import t, { type Test } from 'tap'
import { files, messages } from '../src/db/schema.ts'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser, type TestUser } from './helpers/client.ts'
import { openStream } from './helpers/sse.ts'
import { GIF, JPEG, PNG, upload, uploadForm, WEBP, type UploadOptions } from './helpers/upload.ts'

const MAX = 512 * 1024
const { app, baseUrl, config } = await startApp(t, { maxUploadBytes: MAX })
const filesDir = join(config.dataDir, 'files')

const alice = await registerUser(baseUrl)
const bob = await registerUser(baseUrl)
const carol = await registerUser(baseUrl)
await addContact(alice, bob)
const bobStream = await openStream(t, baseUrl, { token: bob.token })

function sendFile (options: UploadOptions, kind: 'files' | 'images' = 'files', from: TestUser = alice, to: TestUser = bob) {
  return upload(baseUrl, from.token, `/conversations/${to.id}/${kind}`, options)
}

function download (user: TestUser | undefined, url: string, headers: Record<string, string> = {}) {
  return fetch(new URL(url, baseUrl), { headers: user === undefined ? headers : { ...headers, authorization: `Bearer ${user.token}` } })
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

/** What is on disk matches the files table exactly (thumbnails included), and no staged upload is left. */
async function assertStorageMatchesTable (t: Test) {
  const rows = await app.db.select({ id: files.id, thumbnailSize: files.thumbnailSize }).from(files)
  const onDisk = existsSync(filesDir) ? readdirSync(filesDir).filter((name) => name !== 'tmp') : []
  const expected = rows.flatMap((row) => row.thumbnailSize === null ? [row.id] : [row.id, `${row.id}.thumbnail`])
  t.same(onDisk.sort(), expected.sort(), 'stored bytes and file rows match')
  const staged = existsSync(join(filesDir, 'tmp')) ? readdirSync(join(filesDir, 'tmp')) : []
  t.same(staged, [], 'no staged upload left')
}

/** Runs a failing upload and checks that it left no bytes, no row and no event behind. */
async function assertLeavesNothing (t: Test, attempt: () => Promise<{ status: number, body: any }>, status: number, code: string) {
  const before = { files: await app.db.$count(files), messages: await app.db.$count(messages) }
  const result = await attempt()
  t.equal(result.status, status, code)
  t.equal(result.body.code, code)
  t.equal(result.body.statusCode, status)
  t.same({ files: await app.db.$count(files), messages: await app.db.$count(messages) }, before, 'no row stored')
  await assertStorageMatchesTable(t)
  // A message sent after it is the next thing on the receiver's stream: the failed upload sent no event.
  const seen = bobStream.durable().length
  const marker = await bob.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id } }, body: { content: 'marker' } })
  await bobStream.waitFor((frames) => frames.some((frame) => frame.id !== undefined && JSON.parse(frame.data).id === marker.data!.id))
  t.same(bobStream.durable().slice(seen).map((event) => event.data.id), [marker.data!.id], 'no event for the failed upload')
}

t.test('a file round trip is byte-exact, with the right headers, for both parties only', async (t) => {
  const bytes = randomBytes(300 * 1024)
  const name = '报告 "final".pdf'
  // Sent with the typed client generated from the OpenAPI document, as an SDK would.
  const sent = await alice.api.POST('/conversations/{peerId}/files', {
    params: { path: { peerId: bob.id } },
    body: { file: '' },
    bodySerializer: () => uploadForm({ bytes, name, type: 'application/pdf' })
  })
  t.equal(sent.response.status, 201)
  const message = sent.data!
  t.match(message, { senderId: alice.id, receiverId: bob.id, kind: 'file', content: null, readAt: null })
  t.match(message.file, { name, size: bytes.length, mimeType: 'application/pdf', url: `/files/${message.file!.id}` })
  t.same(JSON.parse((await bobStream.waitForEvent('message.created')).data), message)

  for (const user of [alice, bob]) {
    const response = await download(user, message.file!.url)
    t.equal(response.status, 200)
    t.ok(Buffer.from(await response.arrayBuffer()).equals(bytes), 'the same bytes')
    t.equal(response.headers.get('content-type'), 'application/pdf')
    t.equal(response.headers.get('content-length'), String(bytes.length))
    t.equal(response.headers.get('content-disposition'), 'attachment; filename="__ _final_.pdf"; filename*=UTF-8\'\'%E6%8A%A5%E5%91%8A%20%22final%22.pdf')
    t.equal(response.headers.get('etag'), `"${sha256(bytes)}"`)
    t.equal(response.headers.get('x-content-type-options'), 'nosniff')
    t.match(response.headers.get('cache-control'), /private/)
  }
  const etag = `"${sha256(bytes)}"`
  for (const ifNoneMatch of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
    const cached = await download(bob, message.file!.url, { 'if-none-match': ifNoneMatch })
    t.equal(cached.status, 304, `If-None-Match: ${ifNoneMatch}`)
    t.equal((await cached.arrayBuffer()).byteLength, 0)
    t.equal(cached.headers.get('etag'), etag)
  }
  const stale = await download(bob, message.file!.url, { 'if-none-match': '"something-else"' })
  t.equal(stale.status, 200)
  await stale.arrayBuffer()

  const thirdParty = await download(carol, message.file!.url)
  t.equal(thirdParty.status, 404)
  t.equal((await thirdParty.json() as any).code, 'FILE_NOT_FOUND')
  const anonymous = await download(undefined, message.file!.url)
  t.equal(anonymous.status, 401)
  await anonymous.arrayBuffer()
  const unknown = await download(bob, `/files/${randomUUID()}`)
  t.equal(unknown.status, 404)
  t.equal((await unknown.json() as any).code, 'FILE_NOT_FOUND')
  const badId = await download(bob, '/files/not-a-uuid')
  t.equal(badId.status, 400)
  await badId.arrayBuffer()
  await assertStorageMatchesTable(t)
})

t.test('file names are sanitized and kept for display', async (t) => {
  const cases: Array<[string, string]> = [
    ['a\tb\u0001c.txt', 'abc.txt'],
    ['nul\u0000.txt', 'nul.txt'],
    ['evil\u202etxt.exe', 'eviltxt.exe'],
    ['..', 'file'],
    [`${'a'.repeat(300)}.txt`, `${'a'.repeat(251)}.txt`],
    [`${'名'.repeat(100)}.txt`, `${'名'.repeat(83)}.txt`]
  ]
  for (const [raw, expected] of cases) {
    const sent = await sendFile({ bytes: Buffer.from('x'), name: raw, type: 'text/plain' })
    t.equal(sent.status, 201)
    t.equal(sent.body.file.name, expected, JSON.stringify(raw))
    t.ok(Buffer.byteLength(sent.body.file.name) <= 255)
  }
  const plain = await sendFile({ bytes: Buffer.from('x'), name: 'notes.txt', type: 'text/plain' })
  const response = await download(bob, plain.body.file.url)
  t.equal(response.headers.get('content-disposition'), 'attachment; filename="notes.txt"')
  t.equal(response.headers.get('content-type'), 'text/plain')
  await response.arrayBuffer()
  const undeclared = await sendFile({ bytes: PNG, name: 'picture', type: 'application/octet-stream' })
  t.equal(undeclared.body.file.mimeType, 'image/png', 'without a declared type, the bytes tell')
  const unknown = await sendFile({ bytes: randomBytes(64), name: 'blob', type: 'application/octet-stream' })
  t.equal(unknown.body.file.mimeType, 'application/octet-stream')
  const empty = await sendFile({ bytes: new Uint8Array(0), name: 'empty.txt', type: 'text/plain' })
  t.equal(empty.status, 201)
  t.equal(empty.body.file.size, 0)
})

t.test('images are judged by their bytes and served inline', async (t) => {
  for (const [bytes, mimeType] of [[PNG, 'image/png'], [GIF, 'image/gif'], [JPEG, 'image/jpeg'], [WEBP, 'image/webp']] as const) {
    // The declared type and name say nothing: the bytes decide.
    const sent = await sendFile({ bytes, name: 'photo.bin', type: 'application/octet-stream' }, 'images')
    t.equal(sent.status, 201, mimeType)
    t.match(sent.body, { kind: 'image', file: { mimeType, name: 'photo.bin' } })
    const response = await download(bob, sent.body.file.url)
    t.equal(response.headers.get('content-type'), mimeType)
    // Saved under the extension of its real type (test/media.test.ts has the other cases).
    t.equal(response.headers.get('content-disposition'), `inline; filename="photo.bin.${mimeType === 'image/jpeg' ? 'jpg' : mimeType.slice(6)}"`)
    // Images are stored re-encoded (metadata stripped): size and bytes are those of the stored image.
    t.equal((await response.arrayBuffer()).byteLength, sent.body.file.size)
  }
  const image = await sendFile({ bytes: PNG, name: 'x.png' }, 'images')
  t.same(JSON.parse((await bobStream.waitFor((frames) => frames.some((f) => f.event === 'message.created' && JSON.parse(f.data).id === image.body.id))).find((f) => f.event === 'message.created' && JSON.parse(f.data).id === image.body.id)!.data), image.body)
})

t.test('failed uploads leave nothing behind', async (t) => {
  await t.test('text bytes named .png are 415 UNSUPPORTED_IMAGE', (t) =>
    assertLeavesNothing(t, () => sendFile({ bytes: Buffer.from('just some text, not an image'), name: 'fake.png', type: 'image/png' }, 'images'), 415, 'UNSUPPORTED_IMAGE'))
  await t.test('an SVG is not one of the image types', (t) =>
    assertLeavesNothing(t, () => sendFile({ bytes: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'), name: 'x.svg', type: 'image/svg+xml' }, 'images'), 415, 'UNSUPPORTED_IMAGE'))
  await t.test('over MAX_UPLOAD_BYTES is 413', (t) =>
    assertLeavesNothing(t, () => sendFile({ bytes: randomBytes(MAX + 1), name: 'big.bin' }), 413, 'PAYLOAD_TOO_LARGE'))
  await t.test('a large image is 413 too', (t) =>
    assertLeavesNothing(t, () => sendFile({ bytes: Buffer.concat([PNG, randomBytes(MAX)]), name: 'big.png' }, 'images'), 413, 'PAYLOAD_TOO_LARGE'))
  await t.test('no part "file" is 400', (t) =>
    assertLeavesNothing(t, async () => {
      const form = new FormData()
      form.append('id', randomUUID())
      const response = await fetch(`${baseUrl}/conversations/${bob.id}/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${alice.token}` } })
      return { status: response.status, body: await response.json() }
    }, 400, 'VALIDATION_ERROR'))
  await t.test('the file in another part is 400', (t) =>
    assertLeavesNothing(t, () => sendFile({ bytes: Buffer.from('x'), part: 'upload' }), 400, 'VALIDATION_ERROR'))
  await t.test('an unknown field is 400', (t) =>
    assertLeavesNothing(t, () => sendFile({ bytes: Buffer.from('x'), fields: { senderId: carol.id } }), 400, 'VALIDATION_ERROR'))
  await t.test('an id that is not a UUID is 400', (t) =>
    assertLeavesNothing(t, () => sendFile({ bytes: Buffer.from('x'), id: 'abc' }), 400, 'VALIDATION_ERROR'))
  await t.test('an unknown field after the file is 400, and the staged file goes', (t) =>
    assertLeavesNothing(t, async () => {
      const form = uploadForm({ bytes: randomBytes(1000) })
      form.append('extra', 'x')
      const response = await fetch(`${baseUrl}/conversations/${bob.id}/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${alice.token}` } })
      return { status: response.status, body: await response.json() }
    }, 400, 'VALIDATION_ERROR'))
  await t.test('two files are 413 (one file per message)', (t) =>
    assertLeavesNothing(t, async () => {
      const form = uploadForm({ bytes: randomBytes(1000) })
      form.append('file', new Blob([randomBytes(10)]), 'second.bin')
      const response = await fetch(`${baseUrl}/conversations/${bob.id}/files`, { method: 'POST', body: form, headers: { authorization: `Bearer ${alice.token}` } })
      return { status: response.status, body: await response.json() }
    }, 413, 'PAYLOAD_TOO_LARGE'))
  await t.test('a JSON body is 415', (t) =>
    assertLeavesNothing(t, async () => {
      const response = await fetch(`${baseUrl}/conversations/${bob.id}/files`, { method: 'POST', body: '{"file":"x"}', headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' } })
      return { status: response.status, body: await response.json() }
    }, 415, 'UNSUPPORTED_MEDIA_TYPE'))
  await t.test('a malformed multipart body is 400', (t) =>
    assertLeavesNothing(t, async () => {
      const body = '--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nunterminated'
      const response = await fetch(`${baseUrl}/conversations/${bob.id}/files`, { method: 'POST', body, headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'multipart/form-data; boundary=XYZ' } })
      return { status: response.status, body: await response.json() }
    }, 400, 'VALIDATION_ERROR'))
  await t.test('to a non-contact is 403', (t) =>
    assertLeavesNothing(t, () => sendFile({ bytes: randomBytes(1000) }, 'files', alice, carol), 403, 'NOT_A_CONTACT'))
  await t.test('to an unknown user is 404', (t) =>
    assertLeavesNothing(t, () => upload(baseUrl, alice.token, `/conversations/${randomUUID()}/images`, { bytes: PNG }), 404, 'USER_NOT_FOUND'))
  await t.test('to yourself is 400', (t) =>
    assertLeavesNothing(t, () => sendFile({ bytes: PNG }, 'images', alice, alice), 400, 'CANNOT_MESSAGE_SELF'))
  await t.test('an early answer, before a large file was read, leaves the client able to go on', async (t) => {
    const bytes = randomBytes(MAX - 1000)
    t.equal((await sendFile({ bytes, fields: { unknown: 'x' } })).status, 400)
    t.equal((await sendFile({ bytes, part: 'other' })).status, 400)
    t.equal((await sendFile({ bytes }, 'files', alice, carol)).status, 403)
    t.equal((await sendFile({ bytes: randomBytes(MAX * 3) })).status, 413)
    t.equal((await sendFile({ bytes, name: 'after.bin' })).status, 201)
    await assertStorageMatchesTable(t)
  })
  const atLimit = await sendFile({ bytes: randomBytes(MAX), name: 'exactly-max.bin' })
  t.equal(atLimit.status, 201, 'exactly MAX_UPLOAD_BYTES is accepted')
  t.equal(atLimit.body.file.size, MAX)
})

t.test('a retried upload with the same id stores once; a different file with that id is 409', async (t) => {
  const id = randomUUID()
  const bytes = randomBytes(20_000)
  const first = await sendFile({ id, bytes, name: 'same.bin' })
  t.equal(first.status, 201)
  t.equal(first.body.id, id)
  const filesBefore = await app.db.$count(files)
  const retry = await sendFile({ id, bytes, name: 'same.bin' })
  t.equal(retry.status, 200)
  t.same(retry.body, first.body)
  t.equal(await app.db.$count(files), filesBefore, 'no second file row')
  t.equal(await app.db.$count(messages, eq(messages.id, id)), 1)
  await assertStorageMatchesTable(t)
  await t.test('other bytes', (t) => assertLeavesNothing(t, () => sendFile({ id, bytes: randomBytes(20_000), name: 'same.bin' }), 409, 'MESSAGE_ID_CONFLICT'))
  await t.test('another name', (t) => assertLeavesNothing(t, () => sendFile({ id, bytes, name: 'other.bin' }), 409, 'MESSAGE_ID_CONFLICT'))
  await t.test('as an image', (t) => assertLeavesNothing(t, () => sendFile({ id, bytes: PNG, name: 'same.bin' }, 'images'), 409, 'MESSAGE_ID_CONFLICT'))
  await t.test('a text message id reused for a file', async (t) => {
    const text = await alice.api.POST('/conversations/{peerId}/messages', { params: { path: { peerId: bob.id } }, body: { content: 'text' } })
    await assertLeavesNothing(t, () => sendFile({ id: text.data!.id, bytes }), 409, 'MESSAGE_ID_CONFLICT')
  })
})

t.test('concurrent uploads with one id: one stores, the others are answered as retries, no bytes left behind', async (t) => {
  const id = randomUUID()
  const bytes = randomBytes(50_000)
  const filesBefore = await app.db.$count(files)
  const raced = await Promise.all(Array.from({ length: 6 }, () => sendFile({ id, bytes, name: 'raced.bin' })))
  t.same(raced.map((result) => result.status).sort(), [200, 200, 200, 200, 200, 201])
  t.ok(raced.every((result) => result.body.id === id && result.body.file.sha256 === raced[0]!.body.file.sha256))
  t.equal(await app.db.$count(messages, eq(messages.id, id)), 1)
  t.equal(await app.db.$count(files), filesBefore + 1, 'one file row')
  await assertStorageMatchesTable(t)
})

t.test('avatars: an image, readable by any signed-in user, the previous one deleted', async (t) => {
  const aliceStream = await openStream(t, baseUrl, { token: alice.token })
  const first = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: PNG, name: 'me.png' }, 'PUT')
  t.equal(first.status, 200)
  t.match(first.body, { id: alice.id, username: alice.username, avatarUrl: /^\/files\/[0-9a-f-]{36}\?exp=\d+&sig=[\w-]{43}$/ })
  t.notOk('passwordHash' in first.body)
  t.same(JSON.parse((await aliceStream.waitForEvent('profile.updated')).data), first.body)
  const seenByCarol = await download(carol, first.body.avatarUrl)
  t.equal(seenByCarol.status, 200, 'any signed-in user may read an avatar')
  t.equal(seenByCarol.headers.get('content-type'), 'image/png')
  t.match(seenByCarol.headers.get('content-disposition'), /^inline/)
  t.ok(Buffer.from(await seenByCarol.arrayBuffer()).subarray(0, 8).equals(PNG.subarray(0, 8)), 'a PNG (stored re-encoded)')
  // The signed avatarUrl needs no token (test/signed-links.test.ts); the bare path does.
  const anonymous = await download(undefined, first.body.avatarUrl.split('?')[0])
  t.equal(anonymous.status, 401)
  await anonymous.arrayBuffer()
  const profile = await carol.api.GET('/users/{id}', { params: { path: { id: alice.id } } })
  t.equal(profile.data?.avatarUrl, first.body.avatarUrl)

  const replaced = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: GIF, name: 'me.gif' }, 'PUT')
  t.equal(replaced.status, 200)
  t.not(replaced.body.avatarUrl, first.body.avatarUrl)
  const oldId = first.body.avatarUrl.split('?')[0].split('/').pop()
  t.equal(await app.db.$count(files, eq(files.id, oldId)), 0, 'the previous avatar row is gone')
  t.notOk(existsSync(join(filesDir, oldId)), 'and its bytes')
  const old = await download(carol, first.body.avatarUrl)
  t.equal(old.status, 404)
  await old.arrayBuffer()

  const third = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: PNG, name: 'again.png' }, 'PUT')
  t.equal(third.status, 200)
  const thirdId = third.body.avatarUrl.split('?')[0].split('/').pop()
  const external = await alice.api.PATCH('/users/me', { body: { avatarUrl: 'https://example.com/me.png' } })
  t.equal(external.data?.avatarUrl, 'https://example.com/me.png')
  t.equal(await app.db.$count(files, eq(files.id, thirdId)), 0, 'an avatar replaced through PATCH /users/me goes too')
  t.notOk(existsSync(join(filesDir, thirdId)), 'bytes included')
  const restored = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: GIF, name: 'me.gif' }, 'PUT')
  t.equal(restored.status, 200)
  const second = restored

  const filesBefore = await app.db.$count(files)
  const notImage = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: Buffer.from('hello'), name: 'me.png', type: 'image/png' }, 'PUT')
  t.equal(notImage.status, 415)
  t.equal(notImage.body.code, 'UNSUPPORTED_IMAGE')
  const tooLarge = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: Buffer.concat([PNG, randomBytes(MAX)]), name: 'me.png' }, 'PUT')
  t.equal(tooLarge.status, 413)
  const noFile = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: PNG, part: 'avatar' }, 'PUT')
  t.equal(noFile.status, 400)
  const me = await alice.api.GET('/users/me')
  t.equal(me.data?.avatarUrl, second.body.avatarUrl, 'failed uploads leave the avatar as it was')
  t.equal(await app.db.$count(files), filesBefore)
  await assertStorageMatchesTable(t)
})

t.test('a file goes (row and bytes) once both parties have cleared the messages carrying it', async (t) => {
  const dave = await registerUser(baseUrl)
  const erin = await registerUser(baseUrl)
  await addContact(dave, erin)
  const bytes = randomBytes(5000)
  const sent = await upload(baseUrl, dave.token, `/conversations/${erin.id}/files`, { bytes, name: 'shared.bin' })
  t.equal(sent.status, 201)
  const fileId = sent.body.file.id
  const later = await upload(baseUrl, erin.token, `/conversations/${dave.id}/images`, { bytes: PNG })

  t.equal((await dave.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: erin.id } } })).response.status, 204)
  const stillThere = await download(erin, sent.body.file.url)
  t.equal(stillThere.status, 200, 'the peer keeps the file after one side cleared')
  t.ok(Buffer.from(await stillThere.arrayBuffer()).equals(bytes))
  t.ok(existsSync(join(filesDir, fileId)))

  const afterClear = await upload(baseUrl, dave.token, `/conversations/${erin.id}/files`, { bytes: randomBytes(10), name: 'after.bin' })
  t.equal((await erin.api.DELETE('/conversations/{peerId}/messages', { params: { path: { peerId: dave.id } } })).response.status, 204)
  t.equal(await app.db.$count(files, eq(files.id, fileId)), 0, 'the file row is gone')
  t.notOk(existsSync(join(filesDir, fileId)), 'its bytes are gone')
  t.equal(await app.db.$count(files, eq(files.id, later.body.file.id)), 0, 'the image both cleared is gone too')
  const gone = await download(erin, sent.body.file.url)
  t.equal(gone.status, 404)
  await gone.arrayBuffer()
  // dave cleared before the last upload, erin after it: erin cleared it, dave has not, so it stays.
  t.equal(await app.db.$count(files, eq(files.id, afterClear.body.file.id)), 1)
  const davesView = await dave.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: erin.id } } })
  t.same(davesView.data?.messages.map((m) => m.id), [afterClear.body.id])
  await assertStorageMatchesTable(t)
})

t.test('an image is downloaded under a name ending in the extension of its real type (a.html served inline stays a PNG)', async (t) => {
  const cases: Array<[Uint8Array, string, string]> = [
    [PNG, 'a.html', 'a.html.png'],
    [PNG, 'photo.PNG', 'photo.PNG'],
    [JPEG, 'x.jpeg', 'x.jpeg'],
    // A wrong image extension is replaced; any other is kept and the right one appended.
    [JPEG, 'x.svg', 'x.jpg'],
    [GIF, 'noext', 'noext.gif'],
    [WEBP, 'pic.png', 'pic.webp']
  ]
  for (const [bytes, name, expected] of cases) {
    const sent = await sendFile({ bytes, name }, 'images')
    t.equal(sent.status, 201)
    const response = await download(bob, sent.body.file.url)
    await response.arrayBuffer()
    t.equal(response.headers.get('content-disposition'), `inline; filename="${expected}"`, `${name} -> ${expected}`)
  }
})

t.test('an upload declared larger than MAX_UPLOAD_BYTES is 413 before its body is read', async (t) => {
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(new URL(baseUrl).port), '127.0.0.1', () => {
      // Headers only: a client that waits for an answer before sending the body (Expect-style).
      socket.write(`POST /conversations/${bob.id}/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${alice.token}\r\n` +
        `Content-Type: multipart/form-data; boundary=b\r\nContent-Length: ${MAX * 100}\r\n\r\n`)
    })
    let data = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk) => { data += chunk })
    socket.on('close', () => resolve(data))
    socket.on('error', reject)
    socket.setTimeout(10_000, () => { socket.destroy(); resolve(`no answer: ${data}`) })
  })
  t.match(answer, /^HTTP\/1\.1 413 /, 'answered at once')
  t.match(answer, /"code":"PAYLOAD_TOO_LARGE"/)
  t.match(answer, /connection: close/i, 'and the connection closed')
})
