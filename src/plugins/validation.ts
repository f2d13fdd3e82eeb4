// Request validation: one Ajv compiler for JSON bodies (types as declared, nothing coerced) and one for the
// path, query string and headers (text by nature, so "50" may become 50), both lower-casing ids once they match.
import { type Ajv, AjvCompiler, type ValidatorFactory } from '@fastify/ajv-compiler'
import { LOWERCASE_KEYWORD } from '../schemas/common.ts'

interface DataContext {
  parentData: Record<string | number, unknown>
  parentDataProperty: string | number
}

/** Ajv plugin: `x-lowercase: true` rewrites a valid string to lower case in its parent object or array. */
function lowercaseKeyword (ajv: Ajv): Ajv {
  return ajv.addKeyword({
    keyword: LOWERCASE_KEYWORD,
    type: 'string',
    modifying: true,
    schemaType: 'boolean',
    validate: (enabled: boolean, data: string, _schema?: unknown, context?: DataContext) => {
      if (enabled && context?.parentData !== undefined) context.parentData[context.parentDataProperty] = data.toLowerCase()
      return true
    }
  })
}

// verbose: errors carry their schema, so an id's error can say what an id must look like.
const AJV_OPTIONS = { removeAdditional: false, useDefaults: true, verbose: true } as const

type Validate = ReturnType<ReturnType<ReturnType<typeof AjvCompiler>>>

/** Where a value of a path, query or header part is a number that is not finite: its instance path. */
function nonFinite (data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined
  for (const [key, value] of Object.entries(data)) {
    const values: unknown[] = Array.isArray(value) ? value : [value]
    const index = values.findIndex((item) => typeof item === 'number' && !Number.isFinite(item))
    if (index >= 0) return Array.isArray(value) ? `/${key}/${index}` : `/${key}`
  }
  return undefined
}

/**
 * Ajv coerces text such as "Infinity" or "1e400" to a number that is not finite, and then skips the number's range
 * checks, which it runs on finite numbers only: such a value is refused here as not a number.
 */
function refusingNonFinite (validate: Validate): Validate {
  const wrapped = function (this: unknown, ...args: unknown[]) {
    const valid = (validate as (...args: unknown[]) => boolean).apply(this, args)
    const path = valid ? nonFinite(args[0]) : undefined
    wrapped.errors = path === undefined ? validate.errors : [{ instancePath: path, schemaPath: '#/type', keyword: 'type', params: { type: 'number' }, message: 'must be a finite number' }]
    return valid && path === undefined
  } as unknown as Validate & { errors: unknown }
  return Object.assign(wrapped, { schema: validate.schema, schemaEnv: validate.schemaEnv })
}

/** Fastify's schemaController.compilersFactory.buildValidator: picks the compiler by the part being validated. */
export const buildValidator: ValidatorFactory = (externalSchemas) => {
  const factory = AjvCompiler()
  const plugins = [lowercaseKeyword]
  const body = factory(externalSchemas, { plugins, customOptions: { ...AJV_OPTIONS, coerceTypes: false } })
  const text = factory(externalSchemas, { plugins, customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' } })
  return (route) => route.httpPart === 'body' ? body(route) : refusingNonFinite(text(route))
}
