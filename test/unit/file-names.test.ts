// File names alone: what sanitizeFileName keeps of an uploaded name, and the Content-Disposition it makes.
import t from 'tap'
import { contentDisposition, sanitizeFileName } from '../../src/features/files/names.ts'

t.test('the base name only, whatever the client\'s path separators', async (t) => {
  t.equal(sanitizeFileName('C:\\Users\\me\\report.pdf'), 'report.pdf')
  t.equal(sanitizeFileName('../../etc/passwd'), 'passwd')
  t.equal(sanitizeFileName('dir/'), 'file', 'nothing after the last separator')
})

t.test('no name, or nothing left of it, is "file"', async (t) => {
  for (const raw of [undefined, '', '   ', '.', '..', '/..', '\u0000\u0001', '\u202e']) t.equal(sanitizeFileName(raw), 'file', JSON.stringify(raw))
  t.equal(sanitizeFileName('.bashrc'), '.bashrc', 'a leading dot alone is a name')
})

t.test('control characters and bidi overrides are removed, surrounding spaces trimmed', async (t) => {
  t.equal(sanitizeFileName('a\tb\u0001c\u007f.txt'), 'abc.txt')
  t.equal(sanitizeFileName('nul\u0000.txt'), 'nul.txt')
  t.equal(sanitizeFileName('evil\u202etxt.exe'), 'eviltxt.exe', 'RIGHT-TO-LEFT OVERRIDE cannot disguise the extension')
  t.equal(sanitizeFileName('a\u2066b\u2069\u200e\u200fc'), 'abc', 'isolates and marks too')
  t.equal(sanitizeFileName('  spaced name.txt  '), 'spaced name.txt')
  t.equal(sanitizeFileName('名前 \u{1F600}.txt'), '名前 \u{1F600}.txt', 'other characters are kept')
})

t.test('HTML form encoding of quote, CR and LF in part names is undone safely', async (t) => {
  t.equal(sanitizeFileName('say %22hi%22.txt'), 'say "hi".txt')
  t.equal(sanitizeFileName('a%0D%0Ab%0d%0a.txt'), 'ab.txt', 'line breaks dropped, either case')
  t.equal(sanitizeFileName('100%.txt'), '100%.txt', 'other percent signs are literal')
})

t.test('an unpaired surrogate is dropped (it has no UTF-8 form)', async (t) => {
  t.equal(sanitizeFileName('x\ud800y\udfff.txt'), 'xy.txt')
  t.equal(sanitizeFileName('pair \u{1F600}.txt'), 'pair \u{1F600}.txt', 'a proper pair is kept')
})

t.test('at most 255 UTF-8 bytes, cut between characters, keeping a short extension', async (t) => {
  const ascii = sanitizeFileName(`${'a'.repeat(300)}.txt`)
  t.equal(ascii, `${'a'.repeat(251)}.txt`)
  t.equal(sanitizeFileName(`${'名'.repeat(100)}.txt`), `${'名'.repeat(83)}.txt`, '3-byte characters: 83 * 3 + 4 = 253 bytes')
  t.equal(sanitizeFileName('\u{1F600}'.repeat(70)), '\u{1F600}'.repeat(63), 'no extension: 4-byte characters, none split')
  t.equal(sanitizeFileName('é'.repeat(200)), 'é'.repeat(127), '2-byte characters: 254 bytes, the next would make 256')
  const longExtension = sanitizeFileName(`${'a'.repeat(300)}.${'b'.repeat(20)}`)
  t.equal(longExtension, 'a'.repeat(255), 'an extension over 16 bytes is not kept apart: the whole name is cut')
  t.equal(sanitizeFileName('a'.repeat(255)), 'a'.repeat(255), 'exactly 255 bytes is kept as is')
})

t.test('Content-Disposition: a plain ASCII name alone, quoted', async (t) => {
  t.equal(contentDisposition('attachment', 'notes.txt'), 'attachment; filename="notes.txt"')
  t.equal(contentDisposition('inline', 'it\'s (1)*.png'), 'inline; filename="it\'s (1)*.png"')
})

t.test('Content-Disposition: other names get an ASCII fallback and the exact name in filename*', async (t) => {
  t.equal(contentDisposition('attachment', '报告 "final".pdf'), 'attachment; filename="__ _final_.pdf"; filename*=UTF-8\'\'%E6%8A%A5%E5%91%8A%20%22final%22.pdf')
  t.equal(contentDisposition('attachment', 'a\\b%c.txt'), 'attachment; filename="a_b_c.txt"; filename*=UTF-8\'\'a%5Cb%25c.txt', 'backslash and percent never reach the quoted form')
  t.equal(contentDisposition('inline', 'l\'été (1)*.png'), 'inline; filename="l\'_t_ (1)*.png"; filename*=UTF-8\'\'l%27%C3%A9t%C3%A9%20%281%29%2A.png', 'RFC 5987 encodes \' ( ) * too')
})

t.test('every sanitized name makes a header with only visible ASCII, and filename* decodes back to the name', async (t) => {
  for (const raw of ['报告.pdf', 'x\ud800.txt', 'tab\there', 'quote".txt', 'back\\slash', '\u{1F600}.gif', 'naïve café.doc']) {
    const name = sanitizeFileName(raw)
    const header = contentDisposition('attachment', name)
    t.match(header, /^[\x20-\x7e]+$/, JSON.stringify(raw))
    const star = /filename\*=UTF-8''(.*)$/.exec(header)
    t.equal(star === null ? /filename="(.*)"/.exec(header)![1] : decodeURIComponent(star[1]!), name)
  }
})
