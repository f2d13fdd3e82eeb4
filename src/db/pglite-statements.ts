// The PGlite client drizzle runs on: each statement is a named prepared statement, run in one call into PGlite.
// PGlite's own query() parses and plans the statement again every time, in six calls into its WebAssembly
// PostgreSQL (Parse, Describe, Bind, Describe, Execute, Sync), each followed by parsing the protocol output;
// here Bind, Execute and Sync go in one call to a statement parsed once: a small INSERT took 291 µs that way, 55 µs this way.
import { type PGlite, type QueryOptions, type Results, type Transaction, parse, protocol } from '@electric-sql/pglite'

type RowDescription = InstanceType<typeof protocol.messages.RowDescriptionMessage>
type DataRow = InstanceType<typeof protocol.messages.DataRowMessage>
type CommandComplete = InstanceType<typeof protocol.messages.CommandCompleteMessage>

interface Prepared {
  name: string
  /** The parameters' type ids, as PostgreSQL inferred them (how each value is serialized). */
  parameterTypes: number[]
  /** The statement's result columns (undefined when it answers no rows). */
  rows: RowDescription | undefined
}

/** Beyond this many distinct statement texts, new ones are parsed each time (the server's own are a few hundred). */
const MAX_PREPARED = 2000

/** What drizzle's PGlite driver calls: query, and transaction with a query of its own. */
export interface PgliteClient {
  query: <T>(text: string, params?: unknown[], options?: QueryOptions) => Promise<Results<T>>
  transaction: <T>(work: (tx: Transaction) => Promise<T>) => Promise<T>
}

export class PreparedStatements implements PgliteClient {
  private readonly prepared = new Map<string, Prepared>()

  constructor (readonly pg: PGlite, private readonly maxPrepared = MAX_PREPARED) {}

  /** Outside a transaction: waits for any transaction under way, as PGlite's query() does. */
  query<T> (text: string, params: unknown[] = [], options?: QueryOptions): Promise<Results<T>> {
    return this.pg._runExclusiveTransaction(() => this.pg._runExclusiveQuery(() => this.run<T>(text, params, options)))
  }

  transaction<T> (work: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.pg.transaction((tx) => work(Object.assign(Object.create(tx) as Transaction, {
      query: <R>(text: string, params: unknown[] = [], options?: QueryOptions) => this.pg._runExclusiveQuery(() => this.run<R>(text, params, options))
    })))
  }

  private async run<T> (text: string, params: unknown[], options: QueryOptions | undefined): Promise<Results<T>> {
    const statement = this.prepared.get(text) ?? await this.prepare(text)
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null
      const serialize = this.pg.serializers[statement.parameterTypes[i]!]
      return serialize !== undefined ? serialize(value) as string : String(value)
    })
    const { messages } = await this.pg.execProtocol(concat(
      protocol.serialize.bind({ statement: statement.name, values }),
      protocol.serialize.execute({}),
      protocol.serialize.sync()
    ))
    return this.results<T>(statement.rows, messages, options)
  }

  /**
   * The statement's answer, as PGlite's parseResults would give it. That one copies PGlite's whole table of
   * parsers (318 entries) whenever the options carry parsers of their own, as drizzle's always do: 167 µs a call.
   */
  private results<T> (description: RowDescription | undefined, messages: Awaited<ReturnType<PGlite['execProtocol']>>['messages'], options: QueryOptions | undefined): Results<T> {
    const fields = description?.fields.map((field) => ({ name: field.name, dataTypeID: field.dataTypeID })) ?? []
    const parsers = fields.map((field) => options?.parsers?.[field.dataTypeID] ?? this.pg.parsers[field.dataTypeID])
    const parseValue = (value: string | null, i: number): unknown => {
      if (value === null) return null
      const parser = parsers[i]
      return parser === undefined ? value : parser(value, fields[i]!.dataTypeID)
    }
    const rows: unknown[] = []
    let affectedRows = 0
    for (const message of messages) {
      if (message.name === 'dataRow') {
        const values = (message as DataRow).fields.map(parseValue)
        rows.push(options?.rowMode === 'array' ? values : Object.fromEntries(fields.map((field, i) => [field.name, values[i]])))
      } else if (message.name === 'commandComplete') {
        const words = (message as CommandComplete).text.split(' ')
        if (['INSERT', 'UPDATE', 'DELETE', 'COPY', 'MERGE'].includes(words[0]!)) affectedRows += Number(words.at(-1))
      }
    }
    return { rows: rows as T[], fields, affectedRows }
  }

  /**
   * Parses and describes a statement, under a name kept for its next runs; past maxPrepared as the unnamed
   * statement, which lasts until the next one is parsed (the caller binds it at once, under the same lock).
   */
  private async prepare (text: string): Promise<Prepared> {
    const keep = this.prepared.size < this.maxPrepared
    const name = keep ? `s${this.prepared.size + 1}` : ''
    const { messages } = await this.pg.execProtocol(concat(
      protocol.serialize.parse({ name, text }),
      protocol.serialize.describe({ type: 'S', name }),
      protocol.serialize.sync()
    ))
    const statement: Prepared = {
      name,
      parameterTypes: parse.parseDescribeStatementResults(messages),
      rows: messages.find((message): message is RowDescription => message.name === 'rowDescription')
    }
    if (keep) this.prepared.set(text, statement)
    return statement
  }
}

function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((length, part) => length + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
