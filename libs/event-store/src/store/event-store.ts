// The PostgreSQL event store. An append is ONE statement (a data-modifying CTE, append-sql.ts):
// it checks the expected version and writes the events, their outbox rows, the consumer's inbox
// mark and an optional snapshot, all or nothing, in one round trip.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  isSpanContextValid,
  trace,
  type Context,
} from '@opentelemetry/api';
import type { Pool, PoolClient } from 'pg';
import { AlreadyHandledError, ConcurrencyError } from './errors';
import type { EventRegistry } from './registry';
import type {
  AllCheckpoint,
  EventMetadata,
  ExpectedVersion,
  NewEvent,
  RecordedEvent,
  StreamRef,
} from './types';
import {
  appendStatement,
  messagesPassEventId,
  MAX_EVENTS_PER_APPEND,
  MAX_OUTBOX_PER_APPEND,
} from './append-sql';
import { GroupCommit, type GroupCommitOptions, type GroupUnit } from './group-commit';
import { streamKey } from './stream-key';
import {
  BatchStatementError,
  leavesConnectionUsable,
  queryTextRowsBatch,
  type TextRow,
  type TextRowsItem,
} from './text-rows';
import { uuidv7 } from './uuid';

type Queryable = Pool | PoolClient;

/** A message to publish, written to the outbox in the append's transaction. */
export type OutboxMessage =
  | {
      /** Publishes the appended event at this index (0-based) as its envelope. */
      readonly eventIndex: number;
      readonly topic: string;
      readonly headers?: Record<string, string>;
    }
  | {
      readonly topic: string;
      readonly key: string;
      readonly messageId: string;
      readonly headers?: Record<string, string>;
      readonly payload: unknown;
    };

export interface AppendOptions {
  readonly expectedVersion: ExpectedVersion;
  readonly metadata: EventMetadata;
  readonly outbox?: readonly OutboxMessage[];
  /** Marks (consumer, messageId) handled with this result, in the same transaction. */
  readonly inbox?: {
    readonly consumer: string;
    readonly messageId: string;
    readonly result?: unknown;
  };
  /** Replaces the stream's snapshot, taken at the version this append ends at. */
  readonly snapshot?: { readonly schemaVersion: number; readonly state: unknown };
  /** Overrides event ids (tests, imports); generated as UUID v7 otherwise. */
  readonly eventIds?: readonly string[];
}

/** One stream's append, for appendAll. */
export interface AppendItem {
  readonly stream: StreamRef;
  readonly events: readonly NewEvent[];
  readonly options: AppendOptions;
}

export interface AppendResult {
  /** The stream's version after the append: the expected version of the next one. */
  readonly nextExpectedVersion: number;
  readonly events: readonly RecordedEvent[];
}

export interface Snapshot {
  readonly streamVersion: number;
  readonly schemaVersion: number;
  readonly state: unknown;
}

export interface ReadStreamOptions {
  /** Only events after this version. */
  readonly afterVersion?: number;
  /** Only events up to and including this version (temporal read by version). */
  readonly toVersion?: number;
  /** Only events recorded at or before this time (temporal read by time). */
  readonly asOf?: Date;
}

export interface EventRow {
  global_position: string;
  stream_type: string;
  stream_id: string;
  stream_version: number;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: unknown;
  metadata: EventMetadata;
  recorded_at: Date | string;
  transaction_id: string;
}

export const EVENT_COLUMNS = `global_position, stream_type, stream_id, stream_version, event_id, event_type,
  schema_version, data, metadata, recorded_at, transaction_id`;

function expectedToSql(expected: ExpectedVersion): number | null {
  if (expected === 'any') return null;
  if (expected === 'no_stream') return 0;
  if (!Number.isInteger(expected) || expected < 0)
    throw new RangeError(`expected version must be >= 0, got ${expected}`);
  return expected;
}

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === constraint;
}

export interface EventStoreOptions {
  /**
   * Appends through the pool made while others are on their way go together, in one
   * transaction and one round trip (group-commit.ts); each keeps its own outcome. Off by
   * default: the services turn it on.
   */
  readonly groupCommit?: boolean | GroupCommitOptions;
}

/** One append's statement and parameters, its stream, and how to read its rows. */
type PreparedAppend = TextRowsItem & {
  readonly stream: StreamRef;
  finish(rows: TextRow[], db: Queryable): Promise<AppendResult>;
};

/** An append (or appendAll) waiting for its group. */
interface PendingAppend extends GroupUnit {
  readonly items: readonly AppendItem[];
  readonly prepared: readonly PreparedAppend[];
  /** The trace context it was made in: its own queries (a rerun, a conflict's read) go there. */
  readonly context: Context;
  resolve(results: AppendResult[]): void;
  reject(error: unknown): void;
}

const tracer = trace.getTracer('@es/event-store');

export class PostgresEventStore {
  private readonly group: GroupCommit<PendingAppend> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly registry: EventRegistry,
    options: EventStoreOptions = {},
  ) {
    const { groupCommit } = options;
    this.group = groupCommit
      ? new GroupCommit(groupCommit === true ? {} : groupCommit, (units) => this.runGroup(units))
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
        : await this.execute([item], [this.prepareAppend(item, false)], db);
    if (!result) throw new Error(`no result for the append to ${streamKey(stream)}`);
    return result;
  }

  /**
   * Appends to several streams in ONE round trip and one transaction: every append holds, or
   * none is written (a failed expected version raises, append-sql.ts). Errors are the ones
   * append throws, for the stream that failed. Not inside a transaction of the caller's.
   */
  async appendAll(items: readonly AppendItem[]): Promise<AppendResult[]> {
    if (this.group) return this.grouped(items);
    const raise = items.length > 1;
    return this.execute(
      items,
      items.map((item) => this.prepareAppend(item, raise)),
      this.pool,
    );
  }

  /** Runs prepared appends as one round trip and one transaction, their errors as append's. */
  private async execute(
    items: readonly AppendItem[],
    prepared: readonly PreparedAppend[],
    db: Queryable,
  ): Promise<AppendResult[]> {
    let rows: TextRow[][];
    try {
      rows = await queryTextRowsBatch(db, prepared);
    } catch (error) {
      const failed = error instanceof BatchStatementError ? items[error.index] : items[0];
      const cause = error instanceof BatchStatementError ? error.error : error;
      if (!failed) throw cause;
      throw await this.appendError(cause, failed);
    }
    return Promise.all(prepared.map((p, i) => p.finish(rows[i] ?? [], db)));
  }

  /** Queues the appends for the next group; their input is checked (and refused) at once. */
  private grouped(items: readonly AppendItem[]): Promise<AppendResult[]> {
    // A unit of several streams raises on a failed version check, so that it fails whole; one
    // stream's append answers a conflict with no rows, and fails alone in its group.
    const raise = items.length > 1;
    const prepared = items.map((item) => this.prepareAppend(item, raise));
    return new Promise((resolve, reject) => {
      this.group?.submit({
        items,
        prepared,
        statements: prepared.length,
        context: context.active(),
        resolve,
        reject,
      });
    });
  }

  /** One group: every statement in one round trip; each unit settled with its own outcome. */
  private async runGroup(units: readonly PendingAppend[]): Promise<void> {
    try {
      await this.runGroupUnits(units);
    } catch (error) {
      // Not expected (every path settles its units): no unit is left waiting. A settled
      // promise ignores a later reject.
      for (const unit of units) unit.reject(error);
    }
  }

  /** A unit on its own, in the trace context of whoever made it (its spans are theirs). */
  private settle(unit: PendingAppend): Promise<void> {
    return context.with(unit.context, async () => {
      try {
        unit.resolve(await this.execute(unit.items, unit.prepared, this.pool));
      } catch (error) {
        unit.reject(error);
      }
    });
  }

  private async runGroupUnits(units: readonly PendingAppend[]): Promise<void> {
    const [only] = units;
    if (!only) return;
    if (units.length === 1) return this.settle(only);
    // In stream-key order, as the command handler orders a unit's streams (a stable sort: the
    // appends of one stream keep theirs): two processes' groups over the same streams then
    // wait on each other's rows in one order, never in a cycle.
    const slots = units.map((unit, u) => ({
      unit,
      statements: unit.prepared.map((prepared) => ({
        u,
        prepared,
        key: streamKey(prepared.stream),
        rows: [] as TextRow[],
      })),
    }));
    const order = slots
      .flatMap((slot) => slot.statements)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let rows: TextRow[][];
    try {
      rows = await this.inGroupSpan(units, order.length, () =>
        queryTextRowsBatch(
          this.pool,
          order.map((statement) => statement.prepared),
        ),
      );
    } catch (error) {
      const cause = error instanceof BatchStatementError ? error.error : error;
      // The connection failed: whether the group committed is not known, for any of its units.
      if (!leavesConnectionUsable(cause)) {
        for (const unit of units) unit.reject(cause);
        return;
      }
      // A statement of the group failed, so nothing of it was written. Its unit runs on its
      // own, for its own outcome (the conflict, the duplicate, or the effect after all); the
      // units before it and after it go together again. Submission order is kept.
      const culprit = error instanceof BatchStatementError ? order[error.index]?.u : undefined;
      if (culprit === undefined) {
        for (const unit of units) await this.settle(unit);
        return;
      }
      await this.runGroupUnits(units.slice(0, culprit));
      await this.settle(units[culprit] ?? only);
      await this.runGroupUnits(units.slice(culprit + 1));
      return;
    }
    order.forEach((statement, k) => {
      statement.rows = rows[k] ?? [];
    });
    await Promise.all(
      slots.map(({ unit, statements }) =>
        context.with(unit.context, async () => {
          try {
            unit.resolve(
              await Promise.all(statements.map((st) => st.prepared.finish(st.rows, this.pool))),
            );
          } catch (error) {
            unit.reject(error); // its own conflict: no rows, nothing of it written
          }
        }),
      ),
    );
  }

  /**
   * A group's round trip belongs to no one append's trace: it runs under a span of its own,
   * outside whatever context its first append was made in, linked to every append's span.
   */
  private inGroupSpan<T>(
    units: readonly PendingAppend[],
    statements: number,
    work: () => Promise<T>,
  ): Promise<T> {
    const links = units.flatMap((unit) => {
      const spanContext = trace.getSpanContext(unit.context);
      return spanContext && isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
    });
    return context.with(ROOT_CONTEXT, () =>
      tracer.startActiveSpan(
        'event_store group commit',
        {
          kind: SpanKind.INTERNAL,
          links,
          attributes: {
            'event_store.group.appends': units.length,
            'event_store.group.statements': statements,
          },
        },
        async (span) => {
          try {
            return await work();
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
            throw error;
          } finally {
            span.end();
          }
        },
      ),
    );
  }

  /** The statement and parameters of one append, and how to read its rows. */
  private prepareAppend(
    { stream, events, options }: AppendItem,
    raiseOnConflict: boolean,
  ): PreparedAppend {
    const input = events.map((event, i) => ({
      id: options.eventIds?.[i] ?? uuidv7(),
      type: event.type,
      schemaVersion: this.registry.prepare(event.type, event.data),
      data: event.data,
    }));
    const expected = expectedToSql(options.expectedVersion);
    const outbox = options.outbox ?? [];
    if (events.length > MAX_EVENTS_PER_APPEND || outbox.length > MAX_OUTBOX_PER_APPEND) {
      throw new RangeError(
        `an append takes at most ${MAX_EVENTS_PER_APPEND} events and ${MAX_OUTBOX_PER_APPEND} outbox messages, got ${events.length} and ${outbox.length}: split it`,
      );
    }
    // Parameters go to the server as text (text-rows.ts): numbers are written here.
    const values: (string | null)[] = [
      stream.type,
      stream.id,
      expected === null ? null : String(expected),
    ];
    if (input.length > 0) values.push(JSON.stringify(options.metadata));
    for (const event of input) {
      values.push(event.id, event.type, String(event.schemaVersion), JSON.stringify(event.data));
    }
    let kinds = '';
    for (const m of outbox) {
      if ('eventIndex' in m) {
        // Also refuses a fractional or negative index: input[1.5] and input[-1] are undefined.
        const event = input[m.eventIndex];
        if (!event) {
          throw new RangeError(`outbox message refers to event ${m.eventIndex} of ${input.length}`);
        }
        // The parameters append-sql.ts expects: the event's id unless it is $5; `E`: no headers.
        values.push(m.topic);
        if (messagesPassEventId(input.length)) values.push(event.id);
        kinds += m.headers ? 'e' : 'E';
        if (m.headers) values.push(JSON.stringify(m.headers));
      } else {
        // JSON.stringify(undefined) is undefined, bound as NULL: a row with neither an event nor
        // a payload, which nothing in the schema refuses (migration 3).
        if (m.payload === undefined) {
          throw new RangeError(`outbox message ${m.messageId} to ${m.topic} has no payload`);
        }
        kinds += 'p';
        values.push(
          m.topic,
          m.key,
          m.messageId,
          JSON.stringify({ ...metadataHeaders(options.metadata), ...m.headers }),
          JSON.stringify(m.payload),
        );
      }
    }
    if (options.inbox) {
      values.push(
        options.inbox.consumer,
        options.inbox.messageId,
        JSON.stringify(options.inbox.result ?? null),
      );
    }
    if (options.snapshot) {
      values.push(String(options.snapshot.schemaVersion), JSON.stringify(options.snapshot.state));
    }
    const statement = appendStatement({
      events: events.length,
      outbox: kinds,
      inbox: options.inbox !== undefined,
      snapshot: options.snapshot !== undefined,
      newStream: expected === 0,
      raiseOnConflict,
    });
    // Columns as text (append-sql.ts): with events, per event its version, position, recorded
    // time in ms and transaction id; without, whether the expected version held and the
    // stream's version.
    const finish = async (rows: TextRow[], db: Queryable): Promise<AppendResult> => {
      if (input.length === 0 ? rows[0]?.[0] !== 't' : rows.length === 0) {
        // Only a conflict costs a second round trip: the version it found, for the error.
        throw new ConcurrencyError(
          stream,
          options.expectedVersion,
          await this.currentVersion(stream, db),
        );
      }
      if (input.length > 0 && rows.length !== input.length) {
        throw new Error(`append recorded ${rows.length} rows for ${input.length} events`);
      }
      const recorded = input.map((event, i): RecordedEvent => {
        const [version, position, recordedMs, transactionId] = rows[i] ?? [];
        if (!version || !position || !recordedMs || !transactionId) {
          throw new Error(`append returned an incomplete row for event ${i}: ${rows[i]?.join()}`);
        }
        return {
          eventId: event.id,
          type: event.type,
          schemaVersion: event.schemaVersion,
          data: event.data,
          metadata: options.metadata,
          streamType: stream.type,
          streamId: stream.id,
          streamVersion: Number(version),
          globalPosition: BigInt(position),
          recordedAt: new Date(Number(recordedMs)),
          transactionId: BigInt(transactionId),
        };
      });
      const nextExpectedVersion = recorded.at(-1)?.streamVersion ?? Number(rows[0]?.[1] ?? 0);
      return { nextExpectedVersion, events: recorded };
    };
    return { statement, values, stream, finish };
  }

  /** What a failed append's error means for its stream: a conflict, a duplicate, or itself. */
  private async appendError(error: unknown, { stream, options }: AppendItem): Promise<unknown> {
    if (
      isUniqueViolation(error, 'events_stream_version') ||
      (error as { code?: string }).code === 'ES409'
    ) {
      // A concurrent append won the race for the same version, or a batch's version check
      // failed.
      return new ConcurrencyError(
        stream,
        options.expectedVersion,
        await this.currentVersion(stream),
      );
    }
    if (options.inbox && isUniqueViolation(error, 'inbox_pkey')) {
      const first = await this.handled(options.inbox.consumer, options.inbox.messageId);
      return new AlreadyHandledError(
        options.inbox.consumer,
        options.inbox.messageId,
        first?.result,
      );
    }
    return error;
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

  async currentVersion(stream: StreamRef, db: Queryable = this.pool): Promise<number> {
    const { rows } = await db.query<{ v: number }>(
      'SELECT COALESCE(MAX(stream_version), 0) AS v FROM events WHERE stream_type = $1 AND stream_id = $2',
      [stream.type, stream.id],
    );
    return rows[0]?.v ?? 0;
  }

  /**
   * Ids of streams of a type having an event of `eventType` whose data contains `match`, newest
   * first. A scan of the events table: for admin use and for queries served from the store
   * before a read model exists, not for a hot path.
   */
  async findStreams(
    streamType: string,
    eventType: string,
    match: Readonly<Record<string, string | number>>,
    { limit = 100, db = this.pool }: { limit?: number; db?: Queryable } = {},
  ): Promise<string[]> {
    const { rows } = await db.query<{ stream_id: string }>(
      `SELECT stream_id FROM events
       WHERE stream_type = $1 AND event_type = $2 AND data @> $3::jsonb
       ORDER BY global_position DESC LIMIT $4`,
      [streamType, eventType, JSON.stringify(match), limit],
    );
    return rows.map((r) => r.stream_id);
  }

  /** The stream's events in version order, upcast to their current schema versions. */
  async readStream(
    stream: StreamRef,
    options: ReadStreamOptions = {},
    db: Queryable = this.pool,
  ): Promise<RecordedEvent[]> {
    const { rows } = await db.query<EventRow>({
      name: 'es_read_stream',
      text: `SELECT ${EVENT_COLUMNS} FROM events
             WHERE stream_type = $1 AND stream_id = $2 AND stream_version > $3
               AND ($4::int IS NULL OR stream_version <= $4) AND ($5::timestamptz IS NULL OR recorded_at <= $5)
             ORDER BY stream_version`,
      values: [
        stream.type,
        stream.id,
        options.afterVersion ?? 0,
        options.toVersion ?? null,
        options.asOf ?? null,
      ],
    });
    return rows.map((r) => this.toRecorded(r));
  }

  /**
   * Events of every stream after a checkpoint, at most `limit`, upcast. Only rows written by
   * transactions older than every transaction still running are read, in (transaction,
   * position) order, so a transaction that commits late is read after the ones before it,
   * never skipped; a rolled-back one leaves nothing to wait for.
   */
  async readAll(
    after: AllCheckpoint,
    limit: number,
    db: Queryable = this.pool,
  ): Promise<{ events: RecordedEvent[]; checkpoint: AllCheckpoint }> {
    const { rows } = await db.query<EventRow>({
      name: 'es_read_all',
      text: `SELECT ${EVENT_COLUMNS} FROM events
             WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
               AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY transaction_id, global_position
             LIMIT $3`,
      values: [after.transactionId.toString(), after.position.toString(), limit],
    });
    const events = rows.map((r) => this.toRecorded(r));
    const last = events.at(-1);
    return {
      events,
      checkpoint: last
        ? { transactionId: last.transactionId, position: last.globalPosition }
        : after,
    };
  }

  /**
   * The stream's snapshot of this schema version (a snapshot of another is ignored; with no
   * schema version, none is read) and the events after it, in ONE round trip: loading an
   * aggregate costs one query, not two. Given an inbox entry, the same statement says whether
   * that message was handled (and its recorded result): the command handler's duplicate check
   * rides on the load instead of costing a round trip of its own.
   */
  async readFromSnapshot(
    stream: StreamRef,
    schemaVersion: number | undefined,
    options: { readonly inbox?: { readonly consumer: string; readonly messageId: string } } = {},
    db: Queryable = this.pool,
  ): Promise<{
    snapshot: Snapshot | undefined;
    events: RecordedEvent[];
    handled?: { result: unknown };
  }> {
    const { rows } = await db.query<
      Omit<EventRow, 'stream_version'> & {
        stream_version: number | null;
        snapshot_version: number | null;
        snapshot_state: unknown;
        handled: boolean;
        handled_result: unknown;
      }
    >({
      name: 'es_read_from_snapshot',
      // The snapshot's state and the inbox's result travel once, on the first row, however
      // many events follow.
      text: `SELECT s.stream_version AS snapshot_version,
                    CASE WHEN e.stream_version IS NULL OR e.first THEN s.state END AS snapshot_state,
                    i.consumer IS NOT NULL AS handled,
                    CASE WHEN e.stream_version IS NULL OR e.first THEN i.result END AS handled_result,
                    e.*
               FROM (SELECT 1) AS one
               LEFT JOIN inbox i ON i.consumer = $4 AND i.message_id = $5
               LEFT JOIN snapshots s
                 ON s.stream_type = $1 AND s.stream_id = $2 AND s.schema_version = $3
               LEFT JOIN LATERAL (
                 SELECT ${EVENT_COLUMNS}, row_number() OVER (ORDER BY stream_version) = 1 AS first
                   FROM events
                  WHERE stream_type = $1 AND stream_id = $2
                    AND stream_version > COALESCE(s.stream_version, 0)
                  ORDER BY stream_version) e ON true
              ORDER BY e.stream_version`,
      values: [
        stream.type,
        stream.id,
        schemaVersion ?? null,
        options.inbox?.consumer ?? null,
        options.inbox?.messageId ?? null,
      ],
    });
    const first = rows[0];
    const snapshot =
      first && first.snapshot_version !== null && schemaVersion !== undefined
        ? { streamVersion: first.snapshot_version, schemaVersion, state: first.snapshot_state }
        : undefined;
    const events = rows
      .filter((r): r is typeof r & EventRow => r.stream_version !== null)
      .map((r) => this.toRecorded(r));
    return first?.handled
      ? { snapshot, events, handled: { result: first.handled_result } }
      : { snapshot, events };
  }

  /** The recorded result of a handled message, if this consumer handled it. */
  async handled(
    consumer: string,
    messageId: string,
    db: Queryable = this.pool,
  ): Promise<{ result: unknown } | undefined> {
    const { rows } = await db.query<{ result: unknown }>({
      name: 'es_inbox_lookup',
      text: 'SELECT result FROM inbox WHERE consumer = $1 AND message_id = $2',
      values: [consumer, messageId],
    });
    return rows[0];
  }

  private toRecorded(row: EventRow): RecordedEvent {
    return recordedFromRow(row, this.registry);
  }
}

/** An event row as read, upcast to its type's current schema version. */
export function recordedFromRow(row: EventRow, registry: EventRegistry): RecordedEvent {
  const upcast = registry.upcast({
    type: row.event_type,
    schemaVersion: row.schema_version,
    data: row.data,
  });
  return {
    eventId: row.event_id,
    type: upcast.type,
    schemaVersion: upcast.schemaVersion,
    data: upcast.data,
    metadata: row.metadata,
    streamType: row.stream_type,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    globalPosition: BigInt(row.global_position),
    recordedAt: new Date(row.recorded_at),
    transactionId: BigInt(row.transaction_id),
  };
}

/** The headers every message carries for tracing and correlation (docs/architecture.md, One envelope). */
export function metadataHeaders(metadata: EventMetadata): Record<string, string> {
  return {
    'correlation-id': metadata.correlationId,
    ...(metadata.causationId ? { 'causation-id': metadata.causationId } : {}),
    ...(metadata.traceparent ? { traceparent: metadata.traceparent } : {}),
  };
}

/** An event as published: its message value and headers. */
export function eventMessage(event: RecordedEvent): {
  payload: unknown;
  headers: Record<string, string>;
} {
  return {
    payload: {
      eventId: event.eventId,
      type: event.type,
      schemaVersion: event.schemaVersion,
      streamType: event.streamType,
      streamId: event.streamId,
      streamVersion: event.streamVersion,
      globalPosition: event.globalPosition.toString(),
      recordedAt: event.recordedAt.toISOString(),
      data: event.data,
      metadata: event.metadata,
    },
    headers: {
      ...metadataHeaders(event.metadata),
      'event-type': event.type,
      'schema-version': String(event.schemaVersion),
      'stream-version': String(event.streamVersion),
      'global-position': event.globalPosition.toString(),
    },
  };
}
