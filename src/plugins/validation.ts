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

/** Fastify's schemaController.compilersFactory.buildValidator: picks the compiler by the part being validated. */
export const buildValidator: ValidatorFactory = (externalSchemas) => {
  const factory = AjvCompiler()
  const plugins = [lowercaseKeyword]
  const body = factory(externalSchemas, { plugins, customOptions: { ...AJV_OPTIONS, coerceTypes: false } })
  const text = factory(externalSchemas, { plugins, customOptions: { ...AJV_OPTIONS, coerceTypes: 'array' } })
  return (route) => route.httpPart === 'body' ? body(route) : text(route)
}
