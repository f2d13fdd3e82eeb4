// Drizzle queries of the hot read paths, built once per database. Drizzle builds a query's text and its map of
// result fields again on every call: 50 to 170 µs of CPU for each of these on a 2-core VM, more than the rest of a
// request's work. A prepared drizzle query keeps both; its values come through sql.placeholder()s, and its rows
// are mapped as any drizzle query's.
import type { Db } from './client.ts'

/**
 * The query `build` makes on a database, built at its first use there and kept as long as that database. A
 * transaction is a database of its own, so a query run in transactions gains nothing: those are BuiltStatements.
 */
export function preparedQuery<Query> (build: (db: Db) => Query): (db: Db) => Query {
  const built = new WeakMap<Db, Query>()
  return (db) => {
    let query = built.get(db)
    if (query === undefined) {
      query = build(db)
      built.set(db, query)
    }
    return query
  }
}
