// The PostgreSQL event store: appends (one statement each, append/), group commit
// (group-commit/), reads of a stream, of everything and as of a time (read/), snapshots
// (snapshots/) and upcasting (upcasting/), behind one object. This file only routes: each
// concept lives in its folder.
import type { Pool, PoolClient } from 'pg';
import {
  appendError,
  prepareAppend,
  type AppendItem,
  type AppendOptions,
  type AppendResult,
  type PreparedAppend,
  type VersionReader,
} from '../append/prepare-append';
import type { GroupCommitOptions } from '../group-commit/group-commit';
import { GroupedAppends } from '../group-commit/grouped-appends';
import { queryPlainRowsBatch } from '../pg/plain-rows';
import {
  BatchStatementError,
  queryTextRowsBatch,
  type TextRow,
  type TextRowsItem,
} from '../pg/text-rows';
import { readAll } from '../read/read-all';
import type { Queryable } from '../read/queryable';
import {
  currentVersion,
  findStreams,
  handled,
  readStream,
  type ReadStreamOptions,
} from '../read/read-stream';
import { readFromSnapshot, type Snapshot } from '../snapshots/snapshots';
import type { EventRegistry } from '../upcasting/registry';
import { streamKey } from '@es/messaging';
import type { AllCheckpoint, NewEvent, RecordedEvent, StreamRef } from './types';

export interface EventStoreOptions {
  /**
   * Appends through the pool made while others are on their way go together, in one
   * transaction and one round trip (group-commit/); each keeps its own outcome. Off by
   * default: the services turn it on.
   */
  readonly groupCommit?: boolean | GroupCommitOptions;
  /**
   * How statements reach the server: `text-rows` (default) speaks pg's wire API without a
   * Describe and sends a unit's statements under one Sync (pg/text-rows.ts); `pg` goes through
   * pg's own Query (pg/plain-rows.ts), the fallback should a pg upgrade break the first.
   */
  readonly wire?: 'text-rows' | 'pg';
}

export class PostgresEventStore {
  private readonly group: GroupedAppends | undefined;
  private readonly reader: VersionReader;
  private readonly batch: (db: Queryable, items: readonly TextRowsItem[]) => Promise<TextRow[][]>;

  constructor(
    /** The store's database: its other tables (the dead letters) are written through it too. */
    readonly pool: Pool,
    private readonly registry: EventRegistry,
    options: EventStoreOptions = {},
  ) {
    this.reader = this.readerOn(pool);
    this.batch = options.wire === 'pg' ? queryPlainRowsBatch : queryTextRowsBatch;
    const { groupCommit } = options;
    this.group = groupCommit
      ? new GroupedAppends(
          groupCommit === true ? {} : groupCommit,
          (items) => this.batch(pool, items),
          this.reader,
          (items, prepared) => this.execute(items, prepared, pool),
        )
      : undefined;
  }

  async append(
    stream: StreamRef,
    events: readonly NewEvent[],
    options: AppendOptions,
    db: Queryable = this.pool,
  ): Promise<AppendResult> {
    const item = { stream, events, options };
    const [result] =
      this.group && db === this.pool
        ? await this.grouped([item])
        : await this.execute([item], [prepareAppend(item, this.registry, false)], db);
    if (!result) throw new Error(`no result for the append to ${streamKey(stream)}`);
    return result;
  }

  /**
   * Appends to several streams in ONE round trip and one transaction: every append holds, or
   * none is written (a failed expected version raises, append-statement.ts). Errors are the ones
   * append throws, for the stream that failed. Not inside a transaction of the caller's.
   */
  async appendAll(items: readonly AppendItem[]): Promise<AppendResult[]> {
    if (this.group) return this.grouped(items);
    const raise = items.length > 1;
    return this.execute(
      items,
      items.map((item) => prepareAppend(item, this.registry, raise)),
      this.pool,
    );
  }

  /** Queues the appends for the next group; their input is checked (and refused) at once. */
  private grouped(items: readonly AppendItem[]): Promise<AppendResult[]> {
    // A unit of several streams raises on a failed version check, so that it fails whole; one
    // stream's append answers a conflict with no rows, and fails alone in its group.
    const raise = items.length > 1;
    const prepared = items.map((item) => prepareAppend(item, this.registry, raise));
    return (this.group as GroupedAppends).submit(items, prepared);
  }

  /** Runs prepared appends as one round trip and one transaction, their errors as append's. */
  private async execute(
    items: readonly AppendItem[],
    prepared: readonly PreparedAppend[],
    db: Queryable,
  ): Promise<AppendResult[]> {
    const reader = db === this.pool ? this.reader : this.readerOn(db);
    let rows: TextRow[][];
    try {
      rows = await this.batch(db, prepared);
    } catch (error) {
      const failed = error instanceof BatchStatementError ? items[error.index] : items[0];
      const cause = error instanceof BatchStatementError ? error.error : error;
      if (!failed) throw cause;
      throw await appendError(cause, failed, reader);
    }
    return Promise.all(prepared.map((p, i) => p.finish(rows[i] ?? [], reader)));
  }

  private readerOn(db: Queryable): VersionReader {
    return {
      currentVersion: (stream) => currentVersion(db, stream),
      handled: (consumer, messageId) => handled(db, consumer, messageId),
    };
  }

  /**
   * Runs `work` in one transaction on one connection: everything it appends through `db`
   * commits together or not at all (appends to several streams, as one unit of work).
   */
  async transaction<T>(work: (db: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken = false;
    // A checked-out client that loses its connection emits 'error', an uncaught exception
    // without a listener; its queries fail with the error, and so does the transaction.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // A connection that cannot even roll back is not given back to the pool.
      await client.query('ROLLBACK').catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  currentVersion(stream: StreamRef, db: Queryable = this.pool): Promise<number> {
    return currentVersion(db, stream);
  }

  /** Streams of a type with an event of `eventType` whose data contains `match` (read-stream.ts). */
  findStreams(
    streamType: string,
    eventType: string,
    match: Readonly<Record<string, string | number>>,
    { limit = 100, db = this.pool }: { limit?: number; db?: Queryable } = {},
  ): Promise<string[]> {
    return findStreams(db, streamType, eventType, match, limit);
  }

  /** The stream's events in version order, upcast; `toVersion` / `asOf` read it as it was. */
  readStream(
    stream: StreamRef,
    options: ReadStreamOptions = {},
    db: Queryable = this.pool,
  ): Promise<RecordedEvent[]> {
    return readStream(db, this.registry, stream, options);
  }

  /** Every stream's events after a checkpoint, never skipping a late commit (read-all.ts). */
  readAll(
    after: AllCheckpoint,
    limit: number,
    db: Queryable = this.pool,
  ): Promise<{ events: RecordedEvent[]; checkpoint: AllCheckpoint }> {
    return readAll(db, this.registry, after, limit);
  }

  /** The stream's snapshot of this schema version and the events after it, in one round trip. */
  readFromSnapshot(
    stream: StreamRef,
    schemaVersion: number | undefined,
    options: { readonly inbox?: { readonly consumer: string; readonly messageId: string } } = {},
    db: Queryable = this.pool,
  ): Promise<{
    snapshot: Snapshot | undefined;
    events: RecordedEvent[];
    handled?: { result: unknown };
  }> {
    return readFromSnapshot(db, this.registry, stream, schemaVersion, options);
  }

  /** The recorded result of a handled message, if this consumer handled it. */
  handled(
    consumer: string,
    messageId: string,
    db: Queryable = this.pool,
  ): Promise<{ result: unknown } | undefined> {
    return handled(db, consumer, messageId);
  }
}
