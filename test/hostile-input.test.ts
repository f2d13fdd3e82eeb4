// Hostile input on every route, generated from openapi/openapi.json: each path, query and body parameter (JSON
// and multipart) with a wrong type, a value over its declared maximum, a NUL character, and for ids a prefixed,
// a braced and an upper-case form. Every answer is a 4xx in the error shape (upper-case ids may also succeed),
// never a 5xx.
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import tap from 'tap'
import { startApp } from './helpers/app.ts'
import { addContact, registerUser } from './helpers/client.ts'

type Schema = Record<string, any>
interface Parameter { name: string, in: string, required?: boolean, schema: Schema }
interface Operation { parameters?: Parameter[], requestBody?: { content: Record<string, { schema: Schema }> } }

const document = JSON.parse(readFileSync(new URL('../openapi/openapi.json', import.meta.url), 'utf8'))

function resolve (schema: Schema): Schema {
  if (typeof schema.$ref === 'string') return resolve(document.components.schemas[schema.$ref.split('/').pop()!])
  // A nullable field: its non-null form.
  if (Array.isArray(schema.anyOf)) return resolve(schema.anyOf.find((branch: Schema) => branch.type !== 'null') ?? schema.anyOf[0])
  return schema
}

const isId = (schema: Schema) => schema.format === 'uuid'

/** A value the schema accepts, as JSON. */
function valid (schema: Schema): unknown {
  const s = resolve(schema)
  if (s.const !== undefined) return s.const
  if (s.enum !== undefined) return s.enum[0]
  if (s.default !== undefined) return s.default
  switch (s.type) {
    case 'integer': case 'number': return s.minimum ?? 1
    case 'boolean': return true
    case 'array': return []
    case 'object': return Object.fromEntries((s.required ?? []).map((name: string) => [name, valid(s.properties[name])]))
  }
  if (isId(s)) return randomUUID()
  if (s.format === 'email') return `${randomUUID().slice(0, 8)}@example.com`
  if (s.format === 'binary') return 'bytes'
  if (typeof s.pattern === 'string' && /\\d/.test(s.pattern) && !/p\{L\}/.test(s.pattern)) return '1'
  return 'valid_value'.padEnd(s.minLength ?? 1, 'x').slice(0, s.maxLength ?? 100)
}

interface Mutation { label: string, value: unknown, mayPass?: boolean }

/** Hostile values for one parameter. `text`: it travels as text (path, query, multipart field). */
function mutations (schema: Schema, text: boolean): Mutation[] {
  const s = resolve(schema)
  const found: Mutation[] = []
  if (s.type === 'integer' || s.type === 'number') {
    found.push({ label: 'wrong type (text)', value: 'abc' }, { label: 'wrong type (fraction)', value: text ? '1.5' : 1.5 })
    if (s.maximum !== undefined) found.push({ label: 'over maximum', value: text ? String(s.maximum + 1) : s.maximum + 1 })
    // (Text that reads as a number beyond any range: only a URL or a form can carry it.)
    if (text) found.push(...['Infinity', '-Infinity', '1e400', '-1e400', 'NaN'].map((value) => ({ label: `not finite (${value})`, value })))
    found.push({ label: 'NUL', value: '1\u0000' })
    return found
  }
  if (s.type === 'boolean') return [{ label: 'wrong type', value: text ? 'maybe' : 'true' }, { label: 'NUL', value: '\u0000' }]
  if (s.type === 'array') {
    found.push({ label: 'wrong type', value: text ? undefined : 'x' })
    if (s.maxItems !== undefined) found.push({ label: 'too many items', value: Array.from({ length: s.maxItems + 1 }, () => valid(s.items)) })
    return found.filter((m) => m.value !== undefined)
  }
  if (s.type === 'string') {
    if (!text) found.push({ label: 'wrong type (number)', value: 12345 }, { label: 'wrong type (array)', value: ['x'] }, { label: 'wrong type (object)', value: { a: 1 } })
    else found.push({ label: 'wrong type (repeated)', value: ['a', 'b'] })
    if (s.maxLength !== undefined && s.format !== 'binary') found.push({ label: 'too long', value: 'a'.repeat(s.maxLength + 1) })
    found.push({ label: 'NUL', value: 'a\u0000b' })
    // Only JSON can carry an unpaired surrogate (a URL or a form is UTF-8).
    if (!text) found.push({ label: 'lone surrogate', value: 'a\ud800b' })
    if (isId(s)) {
      const id = randomUUID()
      found.push({ label: 'prefixed id', value: `urn:uuid:${id}` }, { label: 'braced id', value: `{${id}}` },
        { label: 'id with a trailing character', value: `${id}0` }, { label: 'upper-case id', value: id.toUpperCase(), mayPass: true })
    }
  }
  return found
}

tap.test('hostile input on every route from the OpenAPI document: 4xx in the error shape, never 5xx', async (t) => {
  const { baseUrl } = await startApp(t)
  const alice = await registerUser(baseUrl)
  const bob = await registerUser(baseUrl)
  await addContact(alice, bob)
  let checked = 0

  async function attempt (name: string, method: string, path: string, query: Array<[string, string]>, body: { json?: unknown, form?: FormData } | undefined, mayPass: boolean) {
    const url = new URL(path, baseUrl)
    for (const [key, value] of query) url.searchParams.append(key, value)
    const headers: Record<string, string> = { authorization: `Bearer ${alice.token}` }
    if (body?.json !== undefined) headers['content-type'] = 'application/json'
    const abort = new AbortController()
    const response = await fetch(url, { method, headers, body: body?.form ?? (body?.json === undefined ? undefined : JSON.stringify(body.json)), signal: abort.signal })
    const type = response.headers.get('content-type') ?? ''
    if (type.startsWith('text/event-stream')) abort.abort()
    const text = type.startsWith('text/event-stream') ? '' : await response.text()
    checked++
    t.ok(response.status < 500, `${name}: ${response.status} is not a 5xx`)
    if (response.status < 400) {
      t.ok(mayPass, `${name}: ${response.status} must be a 4xx`)
      return
    }
    t.ok(response.status < 500, `${name}: a 4xx`)
    let parsed: any
    try { parsed = JSON.parse(text) } catch { parsed = text }
    t.match(parsed, { statusCode: response.status, code: /^[A-Z_]+$/, error: String, message: String }, `${name}: the error shape`)
  }

  for (const [template, item] of Object.entries<Record<string, Operation>>(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const parameters = (operation.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query')
      if (template === '/events') parameters.splice(0, parameters.length, ...parameters.filter((p) => p.name !== 'access_token'))
      const base = Object.fromEntries(parameters.map((p) => [p.name, valid(p.schema)]))
      const jsonSchema = operation.requestBody?.content['application/json']?.schema
      const formSchema = operation.requestBody?.content['multipart/form-data']?.schema
      const baseBody = jsonSchema === undefined ? undefined : valid(jsonSchema) as Record<string, unknown>

      const build = (values: Record<string, unknown>) => {
        const path = template.replace(/\{(\w+)\}/g, (_, key: string) => encodeURIComponent(String(values[key])))
        const query: Array<[string, string]> = parameters.filter((p) => p.in === 'query' && (p.required || values[p.name] !== base[p.name]))
          .flatMap((p) => ([] as unknown[]).concat(values[p.name]).map((v) => [p.name, String(v)] as [string, string]))
        return { path, query }
      }
      const bodyFor = (json: unknown) => jsonSchema === undefined ? (formSchema === undefined ? undefined : { form: form({}) }) : { json }
      const form = (fields: Record<string, unknown>) => {
        const data = new FormData()
        for (const [key, value] of Object.entries(fields)) for (const v of ([] as unknown[]).concat(value)) data.append(key, String(v))
        data.append('file', new Blob([Buffer.from('GIF89a')]), 'x.gif')
        return data
      }

      for (const parameter of parameters) {
        for (const mutation of mutations(parameter.schema, true)) {
          if (parameter.in === 'path' && Array.isArray(mutation.value)) continue
          const { path, query } = build({ ...base, [parameter.name]: mutation.value })
          await attempt(`${method.toUpperCase()} ${template} ${parameter.in} ${parameter.name}: ${mutation.label}`, method.toUpperCase(), path, query, bodyFor(baseBody), mutation.mayPass === true)
        }
      }
      const { path, query } = build(base)
      const bodySchema = jsonSchema === undefined ? undefined : resolve(jsonSchema)
      for (const [field, schema] of Object.entries<Schema>(bodySchema?.properties ?? {})) {
        for (const mutation of mutations(schema, false)) {
          await attempt(`${method.toUpperCase()} ${template} body ${field}: ${mutation.label}`, method.toUpperCase(), path, query, { json: { ...baseBody, [field]: mutation.value } }, mutation.mayPass === true)
        }
      }
      for (const [field, schema] of Object.entries<Schema>(formSchema === undefined ? {} : resolve(formSchema).properties)) {
        if (field === 'file') continue
        for (const mutation of mutations(schema, true)) {
          await attempt(`${method.toUpperCase()} ${template} form ${field}: ${mutation.label}`, method.toUpperCase(), path, query, { form: form({ [field]: mutation.value }) }, mutation.mayPass === true)
        }
      }
      if (bodySchema !== undefined) {
        for (const wrong of [[], 'text', 42, null, { ...baseBody, unknownProperty: 1 }]) {
          await attempt(`${method.toUpperCase()} ${template} body: ${JSON.stringify(wrong)}`, method.toUpperCase(), path, query, { json: wrong }, false)
        }
      }
    }
  }
  t.ok(checked > 200, `${checked} hostile requests`)
})
