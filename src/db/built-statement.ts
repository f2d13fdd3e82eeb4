// Statements of the hot paths (the session check of every request, a send's checks and writes), built once:
// drizzle builds a query's text again on every call, which was 13% of a server's CPU under load (bench stage D).
// Each is a drizzle `sql` template (so tables and columns stay checked names) whose values are sql.placeholder()s.
import { fillPlaceholders, type SQL } from 'drizzle-orm'
import { PgDialect } from 'drizzle-orm/pg-core'
import { type BoundQuery, type Db, runBound } from './client.ts'

const dialect = new PgDialect()

export class BuiltStatement<Row> {
  private readonly text: string
  private readonly params: unknown[]

  constructor (query: SQL) {
    const built = dialect.sqlToQuery(query)
    this.text = built.sql
    this.params = built.params
  }

  /** The statement with these values in its placeholders (to run later, e.g. with a transaction's COMMIT). */
  bind (values: Record<string, unknown>): BoundQuery {
    return { text: this.text, params: fillPlaceholders(this.params, values) }
  }

  /**
   * Runs it on `db` (a transaction's too). Rows come as the driver parses them: column names as written in the
   * statement; bigint a string on PostgreSQL and a number on PGlite.
   */
  async rows (db: Db, values: Record<string, unknown>): Promise<Row[]> {
    return await runBound<Row>(db, this.bind(values))
  }
}
