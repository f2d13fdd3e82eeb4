// Signed file links: downloadUrl, thumbnailUrl and uploaded avatars work in a plain fetch without a token until
// they expire; expired, altered or borrowed signatures are 401 LINK_INVALID; events are signed when sent, so a
// replayed one carries links valid at replay time; signatures stay out of the logs.
import { setTimeout as sleep } from 'node:timers/promises'
import sharp from 'sharp'
import t, { type Test } from 'tap'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser } from './helpers/client.ts'
import { connectSse } from './helpers/sse.ts'
import { upload } from './helpers/upload.ts'

const logLines: string[] = []
const { baseUrl } = await startApp(t, { logLevel: 'info', logStream: { write: (line) => { logLines.push(line) } } })
const alice = await registerUser(baseUrl)
const bob = await registerUser(baseUrl)
await addContact(alice, bob)
await addContact(bob, alice)

const photo = await sharp({ create: { width: 120, height: 80, channels: 3, background: '#2080c0' } }).jpeg().toBuffer()
const plain = (url: string, base = baseUrl) => fetch(new URL(url, base))
const bytesOf = async (response: Response) => Buffer.from(await response.arrayBuffer())
const SIGNED = /^\/files\/([0-9a-f-]{36})(\/thumbnail)?\?exp=(\d+)&sig=([\w-]{43})$/

async function isLinkInvalid (t: Test, url: string, what: string) {
  const response = await plain(url)
  t.equal(response.status, 401, what)
  t.match(await response.json(), { statusCode: 401, code: 'LINK_INVALID' }, what)
}

t.test('downloadUrl and thumbnailUrl work in a plain fetch without a token', async (t) => {
  const sent = await upload(baseUrl, alice.token, `/conversations/${bob.id}/images`, { bytes: photo, name: 'p.jpg' })
  t.equal(sent.status, 201)
  const { file } = sent.body
  t.match(file.downloadUrl, SIGNED)
  t.match(file.thumbnailUrl, SIGNED)
  const exp = Number(SIGNED.exec(file.downloadUrl)![3])
  t.ok(exp * 1000 >= Date.now() + 3600_000 - 2000, 'valid for FILE_URL_TTL_SECONDS (3600 by default)')
  t.ok(exp * 1000 <= Date.now() + 3900_000 + 2000, 'and at most 5 minutes more')

  const withToken = await bytesOf(await fetch(new URL(file.url, baseUrl), { headers: { authorization: `Bearer ${bob.token}` } }))
  const signed = await plain(file.downloadUrl)
  t.equal(signed.status, 200)
  t.equal(signed.headers.get('content-type'), 'image/jpeg')
  t.ok((await bytesOf(signed)).equals(withToken), 'the same bytes as with the token')
  const thumbnail = await plain(file.thumbnailUrl)
  t.equal(thumbnail.status, 200)
  t.equal(thumbnail.headers.get('content-type'), 'image/webp')
  await thumbnail.arrayBuffer()
  const bare = await plain(file.url)
  t.equal(bare.status, 401, 'the bare url still needs the token')
  t.equal((await bare.json() as any).code, 'AUTH_REQUIRED')

  // Every answer carrying the FileRef signs it: history, conversations.
  const history = await bob.api.GET('/conversations/{peerId}/messages', { params: { path: { peerId: alice.id } } })
  t.match(history.data!.messages[0]!.file!.downloadUrl, SIGNED)
  t.equal((await plain(history.data!.messages[0]!.file!.thumbnailUrl!)).status, 200)
  const conversations = await bob.api.GET('/conversations')
  t.match(conversations.data!.conversations[0]!.lastMessage!.file!.downloadUrl, SIGNED)

  const files = await upload(baseUrl, alice.token, `/conversations/${bob.id}/files`, { bytes: Buffer.from('hello'), name: 'a.txt' })
  t.match(files.body.file, { downloadUrl: SIGNED, thumbnailUrl: null, width: null, height: null })
  const text = await plain(files.body.file.downloadUrl)
  t.equal(await text.text(), 'hello')
})

t.test('altered, borrowed and cross-variant signatures are 401 LINK_INVALID', async (t) => {
  const one = (await upload(baseUrl, alice.token, `/conversations/${bob.id}/images`, { bytes: photo, name: 'one.jpg' })).body.file
  const two = (await upload(baseUrl, alice.token, `/conversations/${bob.id}/images`, { bytes: photo, name: 'two.jpg' })).body.file
  const [, id, , exp, sig] = SIGNED.exec(one.downloadUrl)!
  const [, , , thumbExp, thumbSig] = SIGNED.exec(one.thumbnailUrl)!
  const [, , , twoExp, twoSig] = SIGNED.exec(two.downloadUrl)!
  const flipped = (sig![0] === 'A' ? 'B' : 'A') + sig!.slice(1)
  await isLinkInvalid(t, `/files/${id}?exp=${exp}&sig=${flipped}`, 'an altered sig')
  await isLinkInvalid(t, `/files/${id}?exp=${Number(exp) + 1}&sig=${sig}`, 'an altered exp')
  await isLinkInvalid(t, `/files/${id}?exp=${twoExp}&sig=${twoSig}`, 'another file\'s sig')
  await isLinkInvalid(t, `/files/${id}?exp=${thumbExp}&sig=${thumbSig}`, 'the thumbnail\'s sig on the original')
  await isLinkInvalid(t, `/files/${id}/thumbnail?exp=${exp}&sig=${sig}`, 'the original\'s sig on the thumbnail')
  await isLinkInvalid(t, `/files/${id}?exp=${exp}`, 'exp without sig')
  await isLinkInvalid(t, `/files/${id}?sig=${sig}`, 'sig without exp')
  await isLinkInvalid(t, `/files/${id}?exp=soon&sig=${sig}`, 'exp not a number')
  await isLinkInvalid(t, `/files/${id}?exp=${exp}&sig=short`, 'a sig of the wrong length')
  await isLinkInvalid(t, `/files/${id}?exp=${exp}&sig=${sig!.toLowerCase()}`, 'a sig in the wrong case')
  // A valid link with a bad token beside it: the link is what is used.
  const both = await fetch(new URL(one.downloadUrl, baseUrl), { headers: { authorization: 'Bearer nonsense' } })
  t.equal(both.status, 200)
  await both.arrayBuffer()
})

t.test('avatar URLs are signed in User, PublicUser, Contact and profile.updated', async (t) => {
  const stream = await connectSse(baseUrl, { token: alice.token })
  t.teardown(() => stream.close())
  await stream.waitForEvent('ready')
  const set = await upload(baseUrl, alice.token, '/users/me/avatar', { bytes: photo, name: 'me.jpg' }, 'PUT')
  t.match(set.body.avatarUrl, SIGNED)
  const event = JSON.parse((await stream.waitForEvent('profile.updated')).data)
  t.match(event.avatarUrl, SIGNED)
  const avatar = await plain(event.avatarUrl)
  t.equal(avatar.status, 200, 'the event\'s avatarUrl works without a token')
  t.equal(avatar.headers.get('content-type'), 'image/jpeg')
  await avatar.arrayBuffer()
  const me = await alice.api.GET('/users/me')
  t.match(me.data!.avatarUrl, SIGNED)
  const seen = await bob.api.GET('/users/{id}', { params: { path: { id: alice.id } } })
  t.match(seen.data!.avatarUrl, SIGNED)
  const contacts = await bob.api.GET('/contacts')
  t.match(contacts.data!.contacts.find((contact) => contact.contactId === alice.id)!.avatarUrl, SIGNED)
  const found = await bob.api.GET('/users', { params: { query: { search: alice.username.slice(0, 6) } } })
  t.match(found.data!.users.find((user) => user.id === alice.id)!.avatarUrl, SIGNED)
  // avatarUrl is the user's to set: naming someone else's message file must not hand out a working link to it.
  const carol = await registerUser(baseUrl)
  const secret = await upload(baseUrl, bob.token, `/conversations/${alice.id}/images`, { bytes: photo, name: 'private.jpg' })
  const pointed = await carol.api.PATCH('/users/me', { body: { avatarUrl: `/files/${secret.body.file.id}` } })
  t.match(pointed.data!.avatarUrl, SIGNED)
  const stolen = await plain(pointed.data!.avatarUrl!)
  t.equal(stolen.status, 404, 'an avatar link opens avatars only')
  t.equal((await stolen.json() as any).code, 'FILE_NOT_FOUND')
  const [, avatarId, , avatarExp, avatarSig] = SIGNED.exec(me.data!.avatarUrl!)!
  await isLinkInvalid(t, `/files/${avatarId}/thumbnail?exp=${avatarExp}&sig=${avatarSig}`, 'an avatar sig on a thumbnail')
  const external = await alice.api.PATCH('/users/me', { body: { avatarUrl: 'https://example.com/me.png' } })
  t.equal(external.data!.avatarUrl, 'https://example.com/me.png', 'an external URL is handed out as it is')
})

t.test('signatures never reach the log', async (t) => {
  const sent = await upload(baseUrl, alice.token, `/conversations/${bob.id}/images`, { bytes: photo, name: 'log.jpg' })
  const sig = SIGNED.exec(sent.body.file.downloadUrl)![4]!
  await (await plain(sent.body.file.downloadUrl)).arrayBuffer()
  await (await plain(sent.body.file.downloadUrl.replace(/sig=./, 'sig=_'))).arrayBuffer()
  const logged = logLines.join('')
  t.match(logged, /sig=\[REDACTED\]/, 'the download was logged, its sig redacted')
  t.notOk(logged.includes(sig), 'the signature is not in the log')
})

t.test('links expire; a replayed event carries links valid when it is sent', async (t) => {
  const short = await startApp(t, { fileUrlTtlSeconds: 1 })
  const carol = await registerUser(short.baseUrl)
  const dave = await registerUser(short.baseUrl)
  await addContact(carol, dave)
  const sent = await upload(short.baseUrl, carol.token, `/conversations/${dave.id}/images`, { bytes: photo, name: 'brief.jpg' })
  t.equal(sent.status, 201)
  const { downloadUrl, thumbnailUrl } = sent.body.file
  const exp = Number(SIGNED.exec(downloadUrl)![3])
  t.equal((await plain(downloadUrl, short.baseUrl)).status, 200, 'valid at first')
  await sleep(exp * 1000 - Date.now() + 100)
  for (const url of [downloadUrl, thumbnailUrl]) {
    const expired = await plain(url, short.baseUrl)
    t.equal(expired.status, 401, 'expired')
    t.equal((await expired.json() as any).code, 'LINK_INVALID')
  }

  // The stored message.created is replayed from the start: its links are signed now, not when it was stored.
  const replay = await connectSse(short.baseUrl, { token: dave.token, lastEventId: '0' })
  t.teardown(() => replay.close())
  const event = JSON.parse((await replay.waitForEvent('message.created')).data)
  t.equal(event.id, sent.body.id)
  t.ok(Number(SIGNED.exec(event.file.downloadUrl)![3]) > exp, 'a later expiry than the stored send\'s')
  const fresh = await plain(event.file.downloadUrl, short.baseUrl)
  t.equal(fresh.status, 200, 'the replayed downloadUrl works')
  await fresh.arrayBuffer()
  const freshThumbnail = await plain(event.file.thumbnailUrl, short.baseUrl)
  t.equal(freshThumbnail.status, 200, 'and its thumbnailUrl')
  await freshThumbnail.arrayBuffer()
})
