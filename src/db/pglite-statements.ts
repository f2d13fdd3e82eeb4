// The PGlite client drizzle runs on: each statement is a named prepared statement, run in one call into PGlite.
// PGlite's own query() parses and plans the statement again every time, in six calls into its WebAssembly
// PostgreSQL (Parse, Describe, Bind, Describe, Execute, Sync), each followed by parsing the protocol output;
// here Bind, Execute and Sync go in one call to a statement parsed once: a small INSERT took 291 µs that way, 55 µs this way.
// It speaks the wire protocol to a PgliteEngine (bytes in, bytes out), so the database can run in a worker thread,
// and pipelines: statements issued while a call is under way go out together in the next one.
import { Mutex, type PGlite, type QueryOptions, type Results, parse, protocol, types } from '@electric-sql/pglite'

type BackendMessage = Parameters<Parameters<InstanceType<typeof protocol.Parser>['parse']>[1]>[0]
type RowDescription = InstanceType<typeof protocol.messages.RowDescriptionMessage>
type DataRow = InstanceType<typeof protocol.messages.DataRowMessage>
type CommandComplete = InstanceType<typeof protocol.messages.CommandCompleteMessage>
type Parser = (value: string, typeId?: number) => unknown
type Serializer = (value: unknown) => string

/** Where the statements run: answers the backend's raw output for a run of protocol messages. */
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

/** A transaction's hold on the connection, and how many queries outside it wait for its end. */
interface Turn {
  ended: Promise<void>
  waiting: number
}

/** Protocol messages ending in Sync (or one simple query): the backend answers them up to a ReadyForQuery. */
interface Job {
  message: Uint8Array
  resolve: (messages: BackendMessage[]) => void
  reject: (err: unknown) => void
}

/** Beyond this many distinct statement texts, new ones are parsed each time (the server's own are a few hundred). */
const MAX_PREPARED = 2000

/** What a query inside a transaction runs on. */
export interface PgliteTransaction {
  query: <T>(text: string, params?: unknown[], options?: QueryOptions) => Promise<Results<T>>
  /** A statement parsed and planned for these values only (never kept: see queryRowsPlannedEachTime). */
  queryPlannedEachTime: <T>(text: string, params?: unknown[]) => Promise<Results<T>>
  /** Runs the statements and the COMMIT in one call; answers each statement's rows. The transaction ends here. */
  commitWith: (statements: Array<{ text: string, params: unknown[] }>) => Promise<unknown[][]>
}

/** What drizzle's PGlite driver calls (query, and transaction with a query of its own), and queryPlannedEachTime. */
export interface PgliteClient {
  query: PgliteTransaction['query']
  queryPlannedEachTime: PgliteTransaction['queryPlannedEachTime']
  transaction: <T>(work: (tx: PgliteTransaction) => Promise<T>) => Promise<T>
}

export class PreparedStatements implements PgliteClient {
  private readonly prepared = new Map<string, Prepared>()
  /** Statements being parsed, so that two queries of one new text parse it once. */
  private readonly preparing = new Map<string, Promise<Prepared>>()
  /** Names are never reused: counting the maps instead gave one name twice when a parse failed or overlapped another. */
  private namesGiven = 0
  private readonly parser = new protocol.Parser()
  private queue: Job[] = []
  private calling = false
  private flushScheduled = false
  /** Transactions take turns; each holds the connection from BEGIN to its end. */
  private readonly transactionLock = new Mutex()
  /** The transaction holding the connection or about to: queries outside transactions that arrive meanwhile wait for it. */
  private turn: Turn | undefined
  /** Queries outside transactions let through (running, or about to run); the next transaction begins when none is left. */
  private admitted = 0
  private onAllLeft: (() => void) | undefined
  /** The unnamed statement lasts until the next one is parsed: its parse and bind are not interleaved with another's. */
  private readonly unnamedLock = new Mutex()
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

  /** Outside a transaction: waits for any transaction under way, as PGlite's own query() does. */
  query<T> (text: string, params: unknown[] = [], options?: QueryOptions): Promise<Results<T>> {
    return this.outside(() => this.run<T>(text, params, options, true))
  }

  queryPlannedEachTime<T> (text: string, params: unknown[] = []): Promise<Results<T>> {
    return this.outside(() => this.run<T>(text, params, undefined, false))
  }

  transaction<T> (work: (tx: PgliteTransaction) => Promise<T>): Promise<T> {
    return this.transactionLock.runExclusive(async () => {
      let end!: () => void
      const turn: Turn = { ended: new Promise((resolve) => { end = resolve }), waiting: 0 }
      this.turn = turn
      if (this.admitted > 0) await new Promise<void>((resolve) => { this.onAllLeft = resolve })
      try {
        return await this.holding(work)
      } finally {
        // The queries that waited for this transaction run before the next one begins.
        this.turn = undefined
        this.admitted += turn.waiting
        end()
      }
    })
  }

  /** A transaction, with the connection to itself: BEGIN goes out with its first statement, the COMMIT with its last (commitWith). */
  private async holding<T> (work: (tx: PgliteTransaction) => Promise<T>): Promise<T> {
    const begin = this.simple('BEGIN')
    begin.catch(() => {}) // (its outcome is read before the COMMIT)
    let open = true
    const inside = <R>(run: () => Promise<R>) => {
      if (!open) throw new Error('Transaction is closed')
      return run()
    }
    const commit = async (): Promise<void> => {
      open = false
      await begin
      if (await this.simple('COMMIT') !== 'COMMIT') throw rolledBack()
    }
    const tx: PgliteTransaction = {
      query: (text, params = [], options) => inside(() => this.run(text, params, options, true)),
      queryPlannedEachTime: (text, params = []) => inside(() => this.run(text, params, undefined, false)),
      commitWith: (statements) => inside(async () => {
        const prepared = statements.every(({ text }) => this.mayName(text)) ? await Promise.all(statements.map(({ text }) => this.named(text))) : undefined
        if (prepared === undefined) { // (past the cap of kept statements: one after another)
          const rows: unknown[][] = []
          for (const { text, params } of statements) rows.push((await this.run(text, params, undefined, true)).rows)
          await commit()
          return rows
        }
        // Queued in order, before the COMMIT: they go out in one call.
        const runs = statements.map(({ params }, i) => this.bind(prepared[i]!, params, undefined))
        const committed = commit()
        const settled = await Promise.allSettled([...runs, committed])
        const failed = settled.find((result) => result.status === 'rejected')
        if (failed !== undefined) throw failed.reason
        return settled.slice(0, -1).map((result) => (result as PromiseFulfilledResult<Results<unknown>>).value.rows)
      })
    }
    try {
      const value = await work(tx)
      if (open) await commit()
      return value
    } catch (err) {
      // After a failed COMMIT (or a statement sent with it) the transaction has ended already: this ROLLBACK only warns.
      await this.simple('ROLLBACK').catch(() => {})
      throw err
    }
  }

  close (): Promise<void> {
    return this.engine.close()
  }

  /**
   * Runs a query outside any transaction: at once, unless a transaction holds the connection or waits for it; then
   * after that transaction, before the next one.
   */
  private async outside<T> (run: () => Promise<T>): Promise<T> {
    const turn = this.turn
    if (turn === undefined) this.admitted++
    else {
      turn.waiting++
      await turn.ended // (admitted when it ended)
    }
    try {
      return await run()
    } finally {
      if (--this.admitted === 0 && this.onAllLeft !== undefined) {
        this.onAllLeft()
        this.onAllLeft = undefined
      }
    }
  }

  /** A command with no parameters, through the simple query protocol; answers its command tag. */
  private async simple (text: string): Promise<string | undefined> {
    const messages = await this.exec(protocol.serialize.query(text))
    return messages.find((message): message is CommandComplete => message.name === 'commandComplete')?.text
  }

  private async run<T> (text: string, params: unknown[], options: QueryOptions | undefined, keep: boolean): Promise<Results<T>> {
    if (!keep || !this.mayName(text)) {
      return await this.unnamedLock.runExclusive(async () => await this.bind<T>(await this.prepare(text, ''), params, options))
    }
    // A statement prepared already is bound at once (no await before it): statements issued together go out together.
    return await this.bind<T>(this.prepared.get(text) ?? await this.named(text), params, options)
  }

  /** Whether a text is or may become a named statement (within the cap). */
  private mayName (text: string): boolean {
    return this.prepared.has(text) || this.preparing.has(text) || this.prepared.size + this.preparing.size < this.maxPrepared
  }

  private async bind<T> (statement: Prepared, params: unknown[], options: QueryOptions | undefined): Promise<Results<T>> {
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

  /** The named statement of a text, parsed once (two queries of one new text wait for the same parse). */
  private named (text: string): Promise<Prepared> {
    const statement = this.prepared.get(text)
    if (statement !== undefined) return Promise.resolve(statement)
    let preparing = this.preparing.get(text)
    if (preparing === undefined) {
      preparing = this.prepare(text, `s${++this.namesGiven}`).then((statement) => {
        this.prepared.set(text, statement)
        return statement
      }).finally(() => this.preparing.delete(text))
      this.preparing.set(text, preparing)
    }
    return preparing
  }

  /** Parses and describes a statement under `name` ('' for the unnamed statement). */
  private async prepare (text: string, name: string): Promise<Prepared> {
    const messages = await this.exec(concat(
      protocol.serialize.parse({ name, text }),
      protocol.serialize.describe({ type: 'S', name }),
      protocol.serialize.sync()
    ))
    return {
      name,
      parameterTypes: parse.parseDescribeStatementResults(messages),
      rows: messages.find((message): message is RowDescription => message.name === 'rowDescription')
    }
  }

  /**
   * Queues protocol messages and answers the backend's messages for them, or throws the error it answered (it
   * skips the rest up to the Sync). Messages queued while a call is under way go out together in the next call.
   */
  private exec (message: Uint8Array): Promise<BackendMessage[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ message, resolve, reject })
      if (!this.calling && !this.flushScheduled) {
        // After the statements issued in this turn of the event loop, so that they go out together.
        this.flushScheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  private flush (): void {
    this.flushScheduled = false
    if (this.calling || this.queue.length === 0) return
    const jobs = this.queue
    this.queue = []
    this.calling = true
    this.engine.exec(concat(...jobs.map((job) => job.message))).then((answer) => {
      let messages: BackendMessage[] = []
      let next = 0
      this.parser.parse(answer, (message) => {
        messages.push(message)
        if (message.name !== 'readyForQuery') return
        const job = jobs[next++]!
        const error = messages.find((answered) => answered instanceof protocol.messages.DatabaseError)
        if (error !== undefined) job.reject(error)
        else job.resolve(messages)
        messages = []
      })
      for (const job of jobs.slice(next)) job.reject(new Error('the database did not answer the statement'))
    }, (err: unknown) => {
      for (const job of jobs) job.reject(err)
    }).finally(() => {
      this.calling = false
      this.flush()
    })
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
}

function rolledBack (): Error {
  return Object.assign(new Error('Transaction was rolled back instead of committed'), { code: '25P02' })
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
