// The PostgreSQL event store: appends (one statement each, append/), group commit
// (group-commit/), reads of a stream, of everything and as of a time (read/), snapshots
// (snapshots/) and upcasting (upcasting/), behind one object. This file only routes: each
// concept lives in its folder.
import type { Pool, PoolClient } from 'pg';
import {
  appendError,
  prepareAppend,
  validateAppend,
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
import { sealEvents, sealEventsNow, type PersonalDataCipher } from '../privacy/personal-data';
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
  /**
   * Seals the personal fields event types declare before they are written, and opens them for
   * a read that asks (docs/privacy.md). Required when the registry declares any.
   */
  readonly privacy?: PersonalDataCipher;
}

export interface ReadPersonalOptions {
  /**
   * Opens the personal fields (an erased subject's read `{ erased: true }`); the key store
   * away fails the read. Off: they stay sealed, as stored (what a republish publishes).
   */
  readonly open?: boolean;
}

export class PostgresEventStore {
  private readonly group: GroupedAppends | undefined;
  private readonly reader: VersionReader;
  private readonly batch: (db: Queryable, items: readonly TextRowsItem[]) => Promise<TextRow[][]>;
  private readonly privacy: PersonalDataCipher | undefined;

  constructor(
    /** The store's database: its other tables (the dead letters) are written through it too. */
    readonly pool: Pool,
    private readonly registry: EventRegistry,
    options: EventStoreOptions = {},
  ) {
    this.privacy = options.privacy;
    const personal = registry.personalTypes();
    if (personal.length > 0 && !this.privacy)
      throw new Error(
        `event types ${personal.join(', ')} declare personal fields: the event store needs the privacy option to write them sealed`,
      );
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
        : await this.execute([item], await this.prepare([item], false), db);
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
    return this.execute(items, await this.prepare(items, items.length > 1), this.pool);
  }

  /**
   * The appends' statements, their input checked: at once (no await) when no event has
   * personal fields, or when their subjects' keys are in memory; else every event validated
   * first, then the personal fields sealed once the keys are read or made (a key store away
   * fails the append before anything is written).
   */
  private prepare(
    items: readonly AppendItem[],
    raise: boolean,
  ): PreparedAppend[] | Promise<PreparedAppend[]> {
    const { privacy, registry } = this;
    const sealing =
      privacy !== undefined &&
      items.some((item) => item.events.some((e) => registry.personalOf(e.type)));
    if (!sealing) return items.map((item) => prepareAppend(item, registry, raise));
    for (const item of items) validateAppend(item, registry);
    const personalOf = (type: string) => registry.personalOf(type);
    const now = items.map((item) => sealEventsNow(item.events, personalOf, privacy));
    if (now.every((sealed) => sealed !== undefined))
      return items.map((item, i) => prepareAppend(item, registry, raise, now[i]));
    return Promise.all(
      items.map(async (item) => {
        const sealed = await sealEvents(item.events, personalOf, privacy);
        return prepareAppend(item, registry, raise, sealed);
      }),
    );
  }

  /** Queues the appends for the next group; their input is checked (and refused) at once. */
  private grouped(items: readonly AppendItem[]): Promise<AppendResult[]> {
    // A unit of several streams raises on a failed version check, so that it fails whole; one
    // stream's append answers a conflict with no rows, and fails alone in its group.
    const prepared = this.prepare(items, items.length > 1);
    const group = this.group as GroupedAppends;
    return Array.isArray(prepared)
      ? group.submit(items, prepared)
      : prepared.then((sealed) => group.submit(items, sealed));
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

  /**
   * The stream's events in version order, upcast; `toVersion` / `asOf` read it as it was.
   * Personal fields stay sealed, as stored, unless `open` (then opened before upcasting).
   */
  readStream(
    stream: StreamRef,
    options: ReadStreamOptions & ReadPersonalOptions = {},
    db: Queryable = this.pool,
  ): Promise<RecordedEvent[]> {
    return readStream(db, this.registry, stream, options, this.opener(options));
  }

  /** Every stream's events after a checkpoint, never skipping a late commit (read-all.ts). */
  readAll(
    after: AllCheckpoint,
    limit: number,
    db: Queryable = this.pool,
    options: ReadPersonalOptions = {},
  ): Promise<{ events: RecordedEvent[]; checkpoint: AllCheckpoint }> {
    return readAll(db, this.registry, after, limit, this.opener(options));
  }

  /** Whether it seals personal fields (and so can open them on a read that asks). */
  get holdsPersonalData(): boolean {
    return this.privacy !== undefined;
  }

  private opener({ open }: ReadPersonalOptions): PersonalDataCipher | undefined {
    if (!open) return undefined;
    if (!this.privacy) throw new Error('reading personal fields opened needs the privacy option');
    return this.privacy;
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
