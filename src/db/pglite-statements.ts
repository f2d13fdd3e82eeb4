// The PGlite client drizzle runs on: each statement is a named prepared statement, run in one call into PGlite.
// PGlite's own query() parses and plans the statement again every time, in six calls into its WebAssembly
// PostgreSQL (Parse, Describe, Bind, Describe, Execute, Sync), each followed by parsing the protocol output;
// here Bind, Execute and Sync go in one call to a statement parsed once: a small INSERT took 291 µs that way, 55 µs this way.
// It speaks the wire protocol to a PgliteEngine (bytes in, bytes out), so the database can run in a worker thread.
import { Mutex, type PGlite, type QueryOptions, type Results, parse, protocol, types } from '@electric-sql/pglite'

type BackendMessage = Parameters<Parameters<InstanceType<typeof protocol.Parser>['parse']>[1]>[0]
type RowDescription = InstanceType<typeof protocol.messages.RowDescriptionMessage>
type DataRow = InstanceType<typeof protocol.messages.DataRowMessage>
type CommandComplete = InstanceType<typeof protocol.messages.CommandCompleteMessage>
type Parser = (value: string, typeId?: number) => unknown
type Serializer = (value: unknown) => string

/** Where the statements run: answers the backend's raw output for a run of protocol messages ending in Sync. */
export interface PgliteEngine {
  exec: (message: Uint8Array) => Promise<Uint8Array>
  close: () => Promise<void>
}

/** A PGlite of this thread as an engine (tests; the server runs its database in a worker thread: pglite-thread.ts). */
export function inThisThread (pg: PGlite): PgliteEngine {
  return { exec: (message) => pg.execProtocolRaw(message), close: () => pg.close() }
}

interface Prepared {
  name: string
  /** The parameters' type ids, as PostgreSQL inferred them (how each value is serialized). */
  parameterTypes: number[]
  /** The statement's result columns (undefined when it answers no rows). */
  rows: RowDescription | undefined
}

/** Beyond this many distinct statement texts, new ones are parsed each time (the server's own are a few hundred). */
const MAX_PREPARED = 2000

/** What a query inside a transaction runs on. */
export interface PgliteTransaction {
  query: <T>(text: string, params?: unknown[], options?: QueryOptions) => Promise<Results<T>>
  /** A statement parsed and planned for these values only (never kept: see queryRowsPlannedEachTime). */
  queryPlannedEachTime: <T>(text: string, params?: unknown[]) => Promise<Results<T>>
}

/** What drizzle's PGlite driver calls (query, and transaction with a query of its own), and queryPlannedEachTime. */
export interface PgliteClient extends PgliteTransaction {
  transaction: <T>(work: (tx: PgliteTransaction) => Promise<T>) => Promise<T>
}

export class PreparedStatements implements PgliteClient {
  private readonly prepared = new Map<string, Prepared>()
  private readonly parser = new protocol.Parser()
  /** Held by a transaction from BEGIN to its end: a query outside it waits, as with PGlite's own query(). */
  private readonly transactionLock = new Mutex()
  /** Held from a statement's first protocol message to its last (a statement may take two calls). */
  private readonly statementLock = new Mutex()
  private readonly serializers: Record<number, Serializer> = { ...types.serializers }
  private readonly parsers: Record<number, Parser> = { ...types.parsers }

  private constructor (readonly engine: PgliteEngine, private readonly maxPrepared: number) {}

  /** A client on `engine`, which knows the database's array types (as PGlite does once open). */
  static async open (engine: PgliteEngine, maxPrepared = MAX_PREPARED): Promise<PreparedStatements> {
    const statements = new PreparedStatements(engine, maxPrepared)
    const { rows } = await statements.queryPlannedEachTime<{ oid: number, typarray: number }>(`
      select b.oid, b.typarray from pg_catalog.pg_type a join pg_catalog.pg_type b on b.oid = a.typelem
      where a.typcategory = 'A' group by b.oid, b.typarray order by b.oid`)
    for (const { oid, typarray } of rows) {
      statements.serializers[typarray] = (value) => types.arraySerializer(value, statements.serializers[oid], typarray)
      statements.parsers[typarray] = (value) => types.arrayParser(value, statements.parsers[oid]!, typarray)
    }
    return statements
  }

  /** Outside a transaction: waits for any transaction under way. */
  query<T> (text: string, params: unknown[] = [], options?: QueryOptions): Promise<Results<T>> {
    return this.transactionLock.runExclusive(() => this.statementLock.runExclusive(() => this.run<T>(text, params, options, true)))
  }

  queryPlannedEachTime<T> (text: string, params: unknown[] = []): Promise<Results<T>> {
    return this.transactionLock.runExclusive(() => this.statementLock.runExclusive(() => this.run<T>(text, params, undefined, false)))
  }

  transaction<T> (work: (tx: PgliteTransaction) => Promise<T>): Promise<T> {
    return this.transactionLock.runExclusive(async () => {
      await this.simple('BEGIN')
      let open = true
      const inside = <R>(text: string, params: unknown[], options: QueryOptions | undefined, keep: boolean) => {
        if (!open) throw new Error('Transaction is closed')
        return this.statementLock.runExclusive(() => this.run<R>(text, params, options, keep))
      }
      const tx: PgliteTransaction = {
        query: (text, params = [], options) => inside(text, params, options, true),
        queryPlannedEachTime: (text, params = []) => inside(text, params, undefined, false)
      }
      try {
        const value = await work(tx)
        open = false
        const ended = await this.simple('COMMIT')
        if (ended !== 'COMMIT') throw Object.assign(new Error('Transaction was rolled back instead of committed'), { code: '25P02' })
        return value
      } catch (err) {
        if (open) {
          open = false
          await this.simple('ROLLBACK')
        }
        throw err
      }
    })
  }

  close (): Promise<void> {
    return this.engine.close()
  }

  /** A command with no parameters, through the simple query protocol; answers its command tag. */
  private async simple (text: string): Promise<string | undefined> {
    const messages = await this.exec(concat(protocol.serialize.query(text)))
    return messages.find((message): message is CommandComplete => message.name === 'commandComplete')?.text
  }

  private async run<T> (text: string, params: unknown[], options: QueryOptions | undefined, keep: boolean): Promise<Results<T>> {
    const statement = (keep ? this.prepared.get(text) : undefined) ?? await this.prepare(text, keep)
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null
      const serialize = this.serializers[statement.parameterTypes[i]!]
      return serialize !== undefined ? serialize(value) : String(value)
    })
    const messages = await this.exec(concat(
      protocol.serialize.bind({ statement: statement.name, values }),
      protocol.serialize.execute({}),
      protocol.serialize.sync()
    ))
    return this.results<T>(statement.rows, messages, options)
  }

  /** Runs protocol messages; throws the first error the backend answered (the rest up to Sync were skipped by it). */
  private async exec (message: Uint8Array): Promise<BackendMessage[]> {
    const answer = await this.engine.exec(message)
    const messages: BackendMessage[] = []
    this.parser.parse(answer, (backendMessage) => { messages.push(backendMessage) })
    const error = messages.find((backendMessage) => backendMessage instanceof protocol.messages.DatabaseError)
    if (error !== undefined) throw error
    return messages
  }

  /** The statement's answer, as PGlite's parseResults would give it (without copying its table of parsers each time). */
  private results<T> (description: RowDescription | undefined, messages: BackendMessage[], options: QueryOptions | undefined): Results<T> {
    const fields = description?.fields.map((field) => ({ name: field.name, dataTypeID: field.dataTypeID })) ?? []
    const parsers = fields.map((field) => options?.parsers?.[field.dataTypeID] ?? this.parsers[field.dataTypeID])
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
   * Parses and describes a statement, kept under a name for its next runs; when not kept (past maxPrepared, or
   * planned each time) as the unnamed statement, which lasts until the next one is parsed (the caller binds it at
   * once, under the same lock).
   */
  private async prepare (text: string, keep: boolean): Promise<Prepared> {
    const named = keep && this.prepared.size < this.maxPrepared
    const name = named ? `s${this.prepared.size + 1}` : ''
    const messages = await this.exec(concat(
      protocol.serialize.parse({ name, text }),
      protocol.serialize.describe({ type: 'S', name }),
      protocol.serialize.sync()
    ))
    const statement: Prepared = {
      name,
      parameterTypes: parse.parseDescribeStatementResults(messages),
      rows: messages.find((message): message is RowDescription => message.name === 'rowDescription')
    }
    if (named) this.prepared.set(text, statement)
    return statement
  }
}

/** The parts in one new buffer (the engine may take it over: a worker thread's is transferred, not copied). */
function concat (...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((length, part) => length + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
