// Array parameters: a batch of any size is one parameter per column, so the statement's text (and the
// work of building it) stays the same whatever the batch size.
import { type SQL, type SQLWrapper, sql } from 'drizzle-orm'

type ArrayType = 'uuid' | 'text' | 'bigint'

/** A JavaScript array sent as one typed PostgreSQL array parameter. */
export function array (values: ReadonlyArray<string | number | null>, type: ArrayType): SQL {
  return sql`${sql.param(values)}::${sql.raw(type)}[]`
}

/** An array placeholder of a BuiltStatement: a JavaScript array fills it when the statement runs. */
export function arrayPlaceholder (name: string, type: ArrayType): SQL {
  return sql`${sql.placeholder(name)}::${sql.raw(type)}[]`
}

/** `column = any($1::uuid[])`: membership in a list of ids with a single parameter. */
export function anyUuid (column: SQLWrapper, values: readonly string[]): SQL {
  return sql`${column} = any(${array(values, 'uuid')})`
}
