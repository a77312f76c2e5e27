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

/** pg's client calls these as the server answers (client.js delegates to its active query). */
class TextRowsQuery implements Submittable {
  readonly name: string;
  private readonly rows: TextRow[] = [];
  private error: Error | undefined;
  /**
   * Called once, with the error or the rows. Named as pg's Query names it: pg's query timeout
   * and OpenTelemetry's pg instrumentation (which ends the query's span in it) look for it.
   */
  callback: ((error: Error | undefined, rows: TextRow[]) => void) | undefined;

  constructor(
    readonly text: string,
    name: string | undefined,
    private readonly values: readonly (string | null)[],
    callback: (error: Error | undefined, rows: TextRow[]) => void,
  ) {
    this.name = name ?? '';
    this.callback = callback;
  }

  submit(connection: Connection): void {
    const wire = connection as unknown as WireConnection;
    wire.stream.cork?.();
    try {
      const parsed =
        this.name !== '' &&
        (wire.parsedStatements[this.name] !== undefined ||
          wire.submittedNamedStatements[this.name] !== undefined);
      if (!parsed) {
        wire.parse({ name: this.name, text: this.text });
        // pg's bookkeeping: the name is known once its ParseComplete arrives, forgotten on error.
        if (this.name !== '') wire.submittedNamedStatements[this.name] = this.text;
      }
      wire.bind({ statement: this.name, values: this.values });
      wire.execute({ portal: '' });
      wire.sync();
    } finally {
      wire.stream.uncork?.();
    }
  }

  handleDataRow(message: { fields: TextRow }): void {
    this.rows.push(message.fields);
  }

  handleError(error: Error): void {
    // A server error is followed by ReadyForQuery; a lost connection or a query timeout is not.
    this.error ??= error;
    this.finish();
  }

  handleReadyForQuery(): void {
    this.finish();
  }

  private finish(): void {
    const callback = this.callback;
    this.callback = undefined;
    callback?.(this.error, this.rows);
  }

  // Nothing to do for the rest: the statement has no row description (nothing asked for one),
  // suspends no portal (no row limit) and copies nothing.
  handleRowDescription(): void {}
  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: Connection): void {
    (connection as unknown as { sendCopyFail(message: string): void }).sendCopyFail(
      'the statement copies nothing',
    );
  }
  handleCopyData(): void {}
}

function onClient(
  client: PoolClient | Client,
  statement: TextRowsStatement,
  values: readonly (string | null)[],
): Promise<TextRow[]> {
  return new Promise((resolve, reject) => {
    client.query(
      new TextRowsQuery(statement.text, statement.name, values, (error, rows) => {
        if (error) reject(error);
        else resolve(rows);
      }),
    );
  });
}

/** A server's error leaves its connection usable, unless it is the end of the session. */
function leavesConnectionUsable(error: unknown): boolean {
  return error instanceof DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC';
}

/**
 * Runs the statement on the client given (its transaction), or on a connection of the pool.
 * A connection taken from the pool goes back to it after a server's error such as a unique
 * violation (pool.query would close it, and the next append would reconnect); it is closed
 * when the connection itself failed.
 */
export async function queryTextRows(
  db: Pool | PoolClient | Client,
  statement: TextRowsStatement,
  values: readonly (string | null)[],
): Promise<TextRow[]> {
  if (!('totalCount' in db)) return onClient(db, statement, values);
  const client = await db.connect();
  // A checked-out client that loses its connection emits 'error': without a listener, that
  // would be an uncaught exception. The query is failed with the same error.
  let lost: Error | undefined;
  const onError = (error: Error) => {
    lost = error;
  };
  client.on('error', onError);
  try {
    return await onClient(client, statement, values);
  } catch (error) {
    if (!leavesConnectionUsable(error)) lost ??= error as Error;
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(lost ?? false);
  }
}
