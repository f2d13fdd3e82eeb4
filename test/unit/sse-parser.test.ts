// The test client's SSE parser alone: frames split across chunks, CRLF, comments, multi-line data, retry, id.
import t from 'tap'
import { type SseItem, SseParser } from '../helpers/sse-parser.ts'

/** Feeds the chunks one by one and answers everything parsed. */
function parse (...chunks: string[]): SseItem[] {
  const parser = new SseParser()
  return chunks.flatMap((chunk) => parser.push(chunk))
}

const frame = (event: string, data: string, id?: string): SseItem => ({ type: 'frame', frame: { id, event, data } })

t.test('a frame is dispatched by the blank line that ends it, not before', async (t) => {
  const parser = new SseParser()
  t.same(parser.push('id: 7\nevent: message.created\ndata: {"a":1}\n'), [], 'nothing until the blank line')
  t.same(parser.push('\n'), [frame('message.created', '{"a":1}', '7')])
})

t.test('frames split at every possible byte boundary parse the same', async (t) => {
  const text = 'retry: 3000\n\n: ping\n\nid: 1\nevent: a\ndata: one\n\nevent: b\ndata: two\n\n'
  const expected = [{ type: 'retry', ms: 3000 }, { type: 'comment', text: 'ping' }, frame('a', 'one', '1'), frame('b', 'two')]
  t.same(parse(text), expected, 'whole')
  for (let cut = 1; cut < text.length; cut++) t.same(parse(text.slice(0, cut), text.slice(cut)), expected, `cut at ${cut}`)
  t.same(parse(...text.split('')), expected, 'one character per chunk')
})

t.test('CRLF line endings', async (t) => {
  t.same(parse('id: 2\r\nevent: x\r\ndata: a\r\ndata: b\r\n\r\n'), [frame('x', 'a\nb', '2')])
  t.same(parse('data: split\r', '\n\r', '\n'), [frame('message', 'split')], 'CR and LF in different chunks')
})

t.test('multi-line data joins with LF; one leading space is dropped, others kept', async (t) => {
  t.same(parse('data: first\ndata:second\ndata:  third\n\n'), [frame('message', 'first\nsecond\n third')])
  t.same(parse('data\n\n'), [frame('message', '')], 'a field name alone has an empty value')
  t.same(parse('data: a:b: c\n\n'), [frame('message', 'a:b: c')], 'only the first colon separates')
})

t.test('comments, retry and unknown fields', async (t) => {
  t.same(parse(':ping\n: keep alive \n\n'), [{ type: 'comment', text: 'ping' }, { type: 'comment', text: 'keep alive' }], 'comments, trimmed; no frame without data')
  t.same(parse('retry: 1500\n\n'), [{ type: 'retry', ms: 1500 }])
  t.same(parse('foo: bar\ndata: x\n\n'), [frame('message', 'x')], 'unknown fields are ignored')
})

t.test('id and event belong to their frame only', async (t) => {
  t.same(parse('id: 5\nevent: a\ndata: 1\n\ndata: 2\n\n'), [frame('a', '1', '5'), frame('message', '2')])
  t.same(parse('event: lonely\n\n'), [], 'a frame without data is not dispatched')
  t.same(parse('data: pending'), [], 'an unterminated frame is held back')
})
