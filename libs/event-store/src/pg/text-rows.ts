// Runs one prepared statement and hands back its rows as the server sent them, as text. The
// append's hot path uses it instead of pg's Query, which on every execution asks the server to
// describe the result (a Describe, a RowDescription to parse, a parser per column) and builds
// an object per row, and through pool.query hooks and unhooks an error listener and copies the
// query's config. At 32 writers on 2 cores that was about 10 us of the client's ~42 us per
// append (docs/event-store.md). It speaks pg's Submittable interface (the one pg-cursor uses),
// with the statement cache pg keeps per connection, so a statement prepared here is prepared
// once per connection like any other.
import {
  DatabaseError,
  type Client,
  type Connection,
  type Pool,
  type PoolClient,
  type Submittable,
} from 'pg';

/**
 * The pg release whose private connection API this file drives (Connection's parse, bind,
 * execute, sync; its parsedStatements and submittedNamedStatements bookkeeping; the client's
 * delegation of server messages to its active query). text-rows.unit.spec.ts fails when the
 * installed pg is another one or has another shape: review this file, then move the pin.
 */
export const PG_WIRE_VERSION = '8.23.1';

/** One row's columns as text, in the statement's order; null for SQL NULL. */
export type TextRow = readonly (string | null)[];

/** What the statement is: a name prepares it once per connection; without one it is parsed each time. */
export interface TextRowsStatement {
  readonly name: string | undefined;
  readonly text: string;
}

/** The parts of pg's connection this uses (pg 8's Connection; not all of them in its types). */
interface WireConnection {
  readonly stream: { cork?(): void; uncork?(): void };
  readonly parsedStatements: Record<string, string | undefined>;
  readonly submittedNamedStatements: Record<string, string | undefined>;
  parse(query: { name: string; text: string }): void;
  bind(config: { statement: string; values: readonly (string | null)[] }): void;
  execute(config: { portal: string }): void;
  sync(): void;
}

function isPrepared(wire: WireConnection, name: string): boolean {
  return (
    name !== '' &&
    (wire.parsedStatements[name] !== undefined || wire.submittedNamedStatements[name] !== undefined)
  );
}

/**
 * What pg's client calls on its active query as the server answers (client.js delegates to
 * it): the callback is called once, on the first error or at ReadyForQuery. It is named as pg's
 * Query names it: pg's query timeout and OpenTelemetry's pg instrumentation (which ends the
 * query's span in it) look for it. The statements here ask for no row description, suspend no
 * portal (no row limit) and copy nothing in; START_REPLICATION (the decoding relay) receives
 * CopyData.
 */
export abstract class WireQuery<R> implements Submittable {
  callback: ((error: Error | undefined, result: R) => void) | undefined;
  protected error: Error | undefined;

  constructor(callback: (error: Error | undefined, result: R) => void) {
    this.callback = callback;
  }

  abstract submit(connection: Connection): void;
  protected abstract result(): R;

  handleError(error: Error): void {
    // A server error is followed by ReadyForQuery; a lost connection or a query timeout is not.
    this.error ??= error;
    this.finish();
  }

  handleReadyForQuery(): void {
    this.finish();
  }

  protected finish(): void {
    const callback = this.callback;
    this.callback = undefined;
    callback?.(this.error, this.result());
  }

  abstract handleDataRow(message: { fields: TextRow }): void;
  handleRowDescription(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: Connection): void {
    (connection as unknown as { sendCopyFail(message: string): void }).sendCopyFail(
      'the statement copies nothing',
    );
  }
  /** CopyData is a replication stream's (replication-connection.ts overrides this); ignored here. */
  handleCopyData(): void {}
}

/** Parse and Sync: prepares a named statement on the connection, in pg's own bookkeeping. */
class PrepareQuery extends WireQuery<undefined> {
  constructor(
    readonly name: string,
    readonly text: string,
    callback: (error: Error | undefined) => void,
  ) {
    super(callback);
  }

  submit(connection: Connection): void {
    const wire = connection as unknown as WireConnection;
    wire.parse({ name: this.name, text: this.text });
    wire.submittedNamedStatements[this.name] = this.text;
    wire.sync();
  }

  handleDataRow(): void {}

  protected result(): undefined {
    return undefined;
  }
}

/** One statement of a batch, with its parameters as text. */
export interface TextRowsItem {
  readonly statement: TextRowsStatement;
  readonly values: readonly (string | null)[];
}

/** The batch failed at this statement (0-based): those before it ran, and were rolled back. */
export class BatchStatementError extends Error {
  constructor(
    readonly index: number,
    readonly error: Error,
  ) {
    super(error.message, { cause: error });
    this.name = 'BatchStatementError';
  }
}

/**
 * Several statements go in one write, one Sync at the end: PostgreSQL runs them in one implicit
 * transaction, committed at the Sync, and an error skips the rest and rolls back them all.
 */
export class TextRowsQuery extends WireQuery<TextRow[][]> {
  readonly name: string;
  readonly text: string;
  private readonly results: TextRow[][];
  private index = 0;

  constructor(
    private readonly items: readonly TextRowsItem[],
    callback: (error: Error | undefined, results: TextRow[][]) => void,
  ) {
    super(callback);
    // What pg's client records as parsed when a ParseComplete arrives: the first statement.
    const first = items[0]?.statement;
    this.name = items.length === 1 ? (first?.name ?? '') : '';
    this.text = first?.text ?? '';
    this.results = items.map(() => []);
  }

  submit(connection: Connection): void {
    const wire = connection as unknown as WireConnection;
    wire.stream.cork?.();
    try {
      this.write(wire);
    } catch (error) {
      // A message that could not be written (a parameter the serializer refuses): what was
      // written must still end in a Sync, or the connection waits forever; pg's Query does the
      // same. A batch's statements already sent must not commit without the rest: a statement
      // that cannot parse fails their implicit transaction first. The ReadyForQuery that
      // answers finds the query already failed.
      if (this.items.length > 1) wire.parse({ name: '', text: 'es: abandon the batch' });
      wire.sync();
      this.handleError(error instanceof Error ? error : new Error(String(error)));
    } finally {
      wire.stream.uncork?.();
    }
  }

  private write(wire: WireConnection): void {
    for (const { statement, values } of this.items) {
      const name = statement.name ?? '';
      if (!isPrepared(wire, name)) {
        wire.parse({ name, text: statement.text });
        // pg's bookkeeping: the name is known once its ParseComplete arrives, forgotten on
        // error. A batch parses only unnamed statements (onClient prepares the named first).
        if (name !== '') wire.submittedNamedStatements[name] = statement.text;
      }
      wire.bind({ statement: name, values });
      wire.execute({ portal: '' });
    }
    wire.sync();
  }

  override handleDataRow(message: { fields: TextRow }): void {
    this.results[this.index]?.push(message.fields);
  }

  override handleCommandComplete(): void {
    this.index++;
  }

  override handleError(error: Error): void {
    super.handleError(
      this.items.length > 1 && !this.error ? new BatchStatementError(this.index, error) : error,
    );
  }

  protected result(): TextRow[][] {
    return this.results;
  }
}

async function onClient(
  client: PoolClient | Client,
  items: readonly TextRowsItem[],
): Promise<TextRow[][]> {
  if (items.length > 1) {
    // Which of a failed batch's statements were parsed is not told apart: named statements are
    // prepared on their own first, once per connection, and a batch only executes them.
    const wire = (client as unknown as { connection: WireConnection }).connection;
    for (const { statement } of items) {
      const { name } = statement;
      if (name === undefined || isPrepared(wire, name)) continue;
      await new Promise<void>((resolve, reject) => {
        client.query(
          new PrepareQuery(name, statement.text, (error) => {
            if (error) reject(error);
            else resolve();
          }),
        );
      });
    }
  }
  return new Promise((resolve, reject) => {
    client.query(
      new TextRowsQuery(items, (error, results) => {
        if (error) reject(error);
        else resolve(results);
      }),
    );
  });
}

/** A server's error leaves its connection usable, unless it is the end of the session. */
export function leavesConnectionUsable(error: unknown): boolean {
  return error instanceof DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC';
}

/**
 * Runs the statements on the client given (its transaction), or on a connection of the pool.
 * A connection taken from the pool goes back to it after a server's error such as a unique
 * violation (pool.query would close it, and the next append would reconnect); it is closed
 * when the connection itself failed.
 * Several statements go in one round trip and one transaction (outside a transaction of the
 * caller's): all of them commit, or none. An error fails the batch with a BatchStatementError
 * naming the statement that raised it (when there are several).
 */
export async function queryTextRowsBatch(
  db: Pool | PoolClient | Client,
  items: readonly TextRowsItem[],
): Promise<TextRow[][]> {
  if (!('totalCount' in db)) return onClient(db, items);
  return onPooledClient(db, (client) => onClient(client, items));
}

/**
 * Runs `work` on a connection of the pool, given back after a server's error (it is still
 * usable) and closed after a failure of the connection itself.
 */
export async function onPooledClient<T>(
  pool: Pool,
  work: (client: PoolClient, lose: (error: Error) => void) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  // A checked-out client that loses its connection emits 'error': without a listener, that
  // would be an uncaught exception. The query is failed with the same error.
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost = error;
  };
  client.on('error', onError);
  try {
    return await work(client, (error) => {
      lost ??= error;
    });
  } catch (error) {
    const cause = error instanceof BatchStatementError ? error.error : error;
    if (!leavesConnectionUsable(cause)) lost ??= error as Error;
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(lost ?? false);
  }
}
