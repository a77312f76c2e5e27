// One append, from what its caller asks for to what it returns: the input checked and turned
// into the statement's values (append-statement.ts), the rows read back into recorded events,
// and a failed statement's error turned into what it means for the stream.
import { AlreadyHandledError, metadataHeaders, type EventMetadata } from '@es/messaging';
import { ConcurrencyError } from '../store/errors';
import type { EventRegistry } from '../upcasting/registry';
import type { ExpectedVersion, NewEvent, RecordedEvent, StreamRef } from '../store/types';
import type { OutboxMessage } from '../outbox/outbox-message';
import type { TextRow, TextRowsItem } from '../pg/text-rows';
import { uuidv7 } from '../store/uuid';
import {
  buildAppend,
  MAX_EVENTS_PER_APPEND,
  MAX_OUTBOX_PER_APPEND,
  type AppendInput,
} from './append-statement';

/** A stream's status, step and next due time, as its summary row keeps them (stream_summaries). */
export interface StreamSummary {
  readonly status: string;
  readonly step: string | null;
  /** ISO-8601; when the stream next needs attention (a saga's deadline). */
  readonly dueAt: string | null;
  readonly startedAt: string | null;
}

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
  /** Replaces the stream's summary (stream_summaries) as of the version this append ends at. */
  readonly summary?: StreamSummary;
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

/** Whoever runs the statement: it reads a stream's version for a conflict's error. */
export interface VersionReader {
  currentVersion(stream: StreamRef): Promise<number>;
  handled(consumer: string, messageId: string): Promise<{ result: unknown } | undefined>;
}

/** One append's statement and parameters, its stream, and how to read its rows. */
export type PreparedAppend = TextRowsItem & {
  readonly stream: StreamRef;
  finish(rows: TextRow[], reader: VersionReader): Promise<AppendResult>;
};

/** Validates an append's events (the check prepareAppend makes), refusing the first invalid. */
export function validateAppend({ events }: AppendItem, registry: EventRegistry): void {
  for (const event of events) registry.prepare(event.type, event.data);
}

function expectedToSql(expected: ExpectedVersion): number | null {
  if (expected === 'any') return null;
  if (expected === 'no_stream') return 0;
  if (!Number.isInteger(expected) || expected < 0)
    throw new RangeError(`expected version must be >= 0, got ${expected}`);
  return expected;
}

/**
 * Checks an append and builds its statement: every event is validated against its type's
 * schema here, so an invalid append is refused before anything is sent. `raiseOnConflict`: a
 * failed expected version raises (several appends sent together must fail together).
 * `sealed`: the events as they are to be written, their personal fields sealed, when the
 * caller validated them already (validateAppend) and sealed them since; the recorded events
 * returned still hold the caller's data.
 */
export function prepareAppend(
  { stream, events, options }: AppendItem,
  registry: EventRegistry,
  raiseOnConflict: boolean,
  sealed?: readonly NewEvent[],
): PreparedAppend {
  const outbox = options.outbox ?? [];
  if (events.length > MAX_EVENTS_PER_APPEND || outbox.length > MAX_OUTBOX_PER_APPEND) {
    throw new RangeError(
      `an append takes at most ${MAX_EVENTS_PER_APPEND} events and ${MAX_OUTBOX_PER_APPEND} outbox messages, got ${events.length} and ${outbox.length}: split it`,
    );
  }
  const written = events.map((event, i) => ({
    id: options.eventIds?.[i] ?? uuidv7(),
    type: event.type,
    schemaVersion: sealed
      ? registry.schemaVersionOf(event.type)
      : registry.prepare(event.type, event.data),
    data: event.data,
    stored: sealed ? sealed[i]?.data : event.data,
  }));
  const input: AppendInput = {
    streamType: stream.type,
    streamId: stream.id,
    expected: expectedToSql(options.expectedVersion),
    metadata: JSON.stringify(options.metadata),
    events: written.map((e) => ({
      id: e.id,
      type: e.type,
      schemaVersion: e.schemaVersion,
      data: JSON.stringify(e.stored),
    })),
    outbox: outbox.map((m) => {
      if ('eventIndex' in m) {
        // Also refuses a fractional or negative index: written[1.5] and written[-1] are undefined.
        if (!written[m.eventIndex]) {
          throw new RangeError(
            `outbox message refers to event ${m.eventIndex} of ${written.length}`,
          );
        }
        return {
          eventIndex: m.eventIndex,
          topic: m.topic,
          headers: m.headers ? JSON.stringify(m.headers) : undefined,
        };
      }
      // JSON.stringify(undefined) is undefined, bound as NULL: a row with neither an event nor
      // a payload, which nothing in the schema refuses (migration 3).
      if (m.payload === undefined) {
        throw new RangeError(`outbox message ${m.messageId} to ${m.topic} has no payload`);
      }
      return {
        topic: m.topic,
        key: m.key,
        messageId: m.messageId,
        headers: JSON.stringify({ ...metadataHeaders(options.metadata), ...m.headers }),
        payload: JSON.stringify(m.payload),
      };
    }),
    inbox: options.inbox && {
      consumer: options.inbox.consumer,
      messageId: options.inbox.messageId,
      result: JSON.stringify(options.inbox.result ?? null),
    },
    snapshot: options.snapshot && {
      schemaVersion: options.snapshot.schemaVersion,
      state: JSON.stringify(options.snapshot.state),
    },
    summary: options.summary,
    raiseOnConflict,
  };
  const { statement, values } = buildAppend(input);
  // Columns as text: with events, per event its version, position, recorded time in ms and
  // transaction id; without, whether the expected version held and the stream's version.
  const finish = async (rows: TextRow[], reader: VersionReader): Promise<AppendResult> => {
    if (written.length === 0 ? rows[0]?.[0] !== 't' : rows.length === 0) {
      // Only a conflict costs a second round trip: the version it found, for the error.
      throw new ConcurrencyError(
        stream,
        options.expectedVersion,
        await reader.currentVersion(stream),
      );
    }
    if (written.length > 0 && rows.length !== written.length) {
      throw new Error(`append recorded ${rows.length} rows for ${written.length} events`);
    }
    const recorded = written.map((event, i): RecordedEvent => {
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

function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === constraint;
}

/** What a failed append's error means for its stream: a conflict, a duplicate, or itself. */
export async function appendError(
  error: unknown,
  { stream, options }: AppendItem,
  reader: VersionReader,
): Promise<unknown> {
  if (
    isUniqueViolation(error, 'events_stream_version') ||
    (error as { code?: string }).code === 'ES409'
  ) {
    // A concurrent append won the race for the same version, or a batch's version check failed.
    return new ConcurrencyError(
      stream,
      options.expectedVersion,
      await reader.currentVersion(stream),
    );
  }
  if (options.inbox && isUniqueViolation(error, 'inbox_pkey')) {
    const first = await reader.handled(options.inbox.consumer, options.inbox.messageId);
    return new AlreadyHandledError(options.inbox.consumer, options.inbox.messageId, first?.result);
  }
  return error;
}
