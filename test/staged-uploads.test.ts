// Uploads a crash left behind (half-received files in files/tmp, images waiting to be decoded in tmp/images) are
// deleted when the server starts, once an hour old; newer ones may be another instance's upload in progress.
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { startApp } from './helpers/app.ts'

t.test('staged uploads older than an hour are swept at start; recent ones and other files stay', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'chat-test-'))
  const staged = join(dataDir, 'files', 'tmp')
  const decoding = join(dataDir, 'tmp', 'images')
  mkdirSync(staged, { recursive: true })
  mkdirSync(decoding, { recursive: true })
  const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
  const file = (path: string, old: boolean) => {
    writeFileSync(path, 'partial upload')
    if (old) utimesSync(path, twoHoursAgo, twoHoursAgo)
    return path
  }
  const oldPart = file(join(staged, '4f1c2a52-0d7e-4a55-9a57-0d4b7c9e1a10.part'), true)
  const oldUpload = file(join(decoding, '8a3e6f0b-6a1c-4c43-8f9e-2b6d3a7c5e21.upload'), true)
  const freshPart = file(join(staged, '0b9c8d7e-1f2a-4b3c-8d4e-5f6a7b8c9d0e.part'), false)
  const freshUpload = file(join(decoding, '1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f.upload'), false)
  const unrelated = file(join(staged, 'notes.txt'), true)

  const { baseUrl } = await startApp(t, { dataDir })
  t.equal((await fetch(`${baseUrl}/health`)).status, 200)
  t.notOk(existsSync(oldPart), 'an hour-old staged file is gone')
  t.notOk(existsSync(oldUpload), 'an hour-old image upload is gone')
  t.ok(existsSync(freshPart), 'a recent staged file stays (another instance may be receiving it)')
  t.ok(existsSync(freshUpload), 'a recent image upload stays')
  t.ok(existsSync(unrelated), 'files the server did not stage stay')
})
