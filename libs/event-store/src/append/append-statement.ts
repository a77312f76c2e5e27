// The append statement: ONE data-modifying CTE per append that checks the expected version and
// writes the events, their outbox rows, the consumer's inbox mark and an optional snapshot, all
// or nothing, in one round trip. It is generated for the shape of each append (how many events,
// which outbox messages, inbox mark or not, snapshot or not, new stream or not) with one scalar
// parameter per value. One generic statement that unpacked a JSON array cost the server up to
// 1.9 times the CPU of the raw two-row baseline per append; a statement with only the parts in
// use, and no JSON to unpack, about 1.35 times (docs/event-store.md). Each shape is prepared
// once per connection.
// The text and its values are written together, part by part, by `buildAppend`: a value is
// bound where its placeholder is written, so no parameter order or numbering is kept in step
// anywhere else.
import { OUTBOX_WAKE_LOCK } from '../outbox/outbox-message';
import type { TextRowsItem, TextRowsStatement } from '../pg/text-rows';

/** An append's values, checked and serialized (prepare-append.ts), as the statement binds them. */
export interface AppendInput {
  readonly streamType: string;
  readonly streamId: string;
  /** null: any version; 0: no stream. */
  readonly expected: number | null;
  /** The events' metadata as JSON (every event of an append shares it). */
  readonly metadata: string;
  readonly events: readonly {
    readonly id: string;
    readonly type: string;
    readonly schemaVersion: number;
    readonly data: string;
  }[];
  readonly outbox: readonly (
    | {
        /** Publishes the appended event at this index; its id is the message id. */
        readonly eventIndex: number;
        readonly topic: string;
        /** Headers of its own as JSON, beside the ones the relay adds. */
        readonly headers: string | undefined;
      }
    | {
        readonly topic: string;
        readonly key: string;
        readonly messageId: string;
        readonly headers: string;
        readonly payload: string;
      }
  )[];
  readonly inbox:
    { readonly consumer: string; readonly messageId: string; readonly result: string } | undefined;
  readonly snapshot: { readonly schemaVersion: number; readonly state: string } | undefined;
  /** Replaces the stream's summary row (stream_summaries), as of the version the append ends at. */
  readonly summary:
    | {
        readonly status: string;
        readonly step: string | null;
        readonly dueAt: string | null;
        readonly startedAt: string | null;
      }
    | undefined;
  /**
   * A failed expected version raises (es_expected_version, SQLSTATE ES409) instead of writing
   * nothing: one of several appends sent together (appendAll, a group) must fail them all.
   */
  readonly raiseOnConflict: boolean;
}

/** Shapes up to this size are prepared and kept per connection; larger ones are planned each time. */
const PREPARED_LIMIT = 8;
/** PostgreSQL takes at most 65,535 parameters per statement. */
export const MAX_EVENTS_PER_APPEND = 10_000;
export const MAX_OUTBOX_PER_APPEND = 1_000;

const statements = new Map<string, TextRowsStatement>();

/**
 * Expected "no stream" with events to write: nothing to read, the primary key refuses an
 * existing stream's version 1 (a unique violation the store turns into its ConcurrencyError).
 * Without events, a new stream reads its version like any other.
 */
const skipsVersionRead = (input: AppendInput) => input.expected === 0 && input.events.length > 0;

/** What the statement's text depends on, as a name: one prepared statement per shape. */
export function shapeKey(input: AppendInput): string {
  let outbox = '';
  for (const m of input.outbox) outbox += 'eventIndex' in m ? (m.headers ? 'e' : 'E') : 'p';
  const skips = skipsVersionRead(input);
  return `e${input.events.length}.${outbox || '-'}.${input.inbox ? 'i' : '-'}${input.snapshot ? 's' : '-'}${input.summary ? 'u' : ''}${skips ? 'n' : ''}${input.raiseOnConflict && !skips ? 'r' : ''}`;
}

/** Collects the values in placeholder order and, unless the shape's text is known, the text. */
class Writer {
  readonly values: (string | null)[] = [];
  constructor(readonly parts: string[] | undefined) {}

  /** Binds a value; returns its placeholder, `$n`, with the cast when one is given. */
  bind(value: string | null, cast?: string): string {
    this.values.push(value);
    return cast ? `$${this.values.length}::${cast}` : `$${this.values.length}`;
  }
}

/**
 * The statement for an append, and its values. It returns one row per appended event (version,
 * position, recorded time in ms, transaction id), in version order, and none when the expected
 * version did not hold; without events, one row: whether it held, and the stream's version.
 */
export function buildAppend(input: AppendInput): TextRowsItem {
  const key = shapeKey(input);
  const known = statements.get(key);
  const w = new Writer(known ? undefined : []);
  writeStatement(w, input);
  if (known) return { statement: known, values: w.values };
  const small = input.events.length <= PREPARED_LIMIT && input.outbox.length <= PREPARED_LIMIT;
  const statement: TextRowsStatement = {
    name: small ? `es_append_${key}` : undefined,
    text: `WITH ${w.parts?.join(',\n')}`,
  };
  if (statement.name) statements.set(key, statement);
  return { statement, values: w.values };
}

/**
 * Each part binds its values, then writes its text with their placeholders; `w.parts?.push`
 * writes only an unknown shape's text, and evaluates none of its arguments otherwise, so no
 * value is bound inside it.
 */
function writeStatement(w: Writer, input: AppendInput): void {
  const { events, outbox } = input;
  const type = w.bind(input.streamType);
  const id = w.bind(input.streamId);
  const expected = w.bind(input.expected === null ? null : String(input.expected));
  const metadata = events.length > 0 ? w.bind(input.metadata, 'jsonb') : '';
  // A new stream with events to write skips the version read (an index probe, ~10% of the
  // append's server CPU) and inserts its values as they are, with nothing to join: the primary
  // key refuses an existing stream's version 1, and that error aborts the whole statement.
  const newStream = skipsVersionRead(input);
  const eventIds: string[] = [];
  const eventRows = events.map((event, i) => {
    const eventId = w.bind(event.id, 'uuid');
    eventIds.push(eventId);
    const values = `${eventId}, ${w.bind(event.type, 'text')}, ${w.bind(String(event.schemaVersion), 'int')}, ${w.bind(event.data, 'jsonb')}`;
    return newStream
      ? `(${type}, ${id}, ${expected}::int + ${i + 1}, ${values}, ${metadata})`
      : `(${values}, ${i + 1})`;
  });
  // An event's message: its id is the message id, its position is joined from the inserted row.
  // In a one-event append the message points at the event's own id placeholder.
  const messageRows: string[] = [];
  const eventMessages: string[][] = [];
  outbox.forEach((m, i) => {
    if ('eventIndex' in m) {
      const topic = w.bind(m.topic, 'text');
      const eventId =
        events.length === 1
          ? (eventIds[0] ?? '')
          : w.bind(events[m.eventIndex]?.id ?? null, 'uuid');
      const headers = m.headers === undefined ? `'{}'::jsonb` : w.bind(m.headers, 'jsonb');
      eventMessages.push([topic, eventId, headers]);
      messageRows.push(
        `(${topic}, ${id}::text, ${eventId}, ${eventId}, ${headers}, NULL::jsonb, ${i + 1})`,
      );
    } else {
      messageRows.push(
        `(${w.bind(m.topic, 'text')}, ${w.bind(m.key, 'text')}, ${w.bind(m.messageId, 'uuid')}, NULL::uuid, ${w.bind(m.headers, 'jsonb')}, ${w.bind(m.payload, 'jsonb')}, ${i + 1})`,
      );
    }
  });
  // One event, only its messages: each row comes straight from the inserted event, with no
  // VALUES list to scan and no join to plan (about 5% of the append's server CPU,
  // docs/event-store.md). ins is empty when the expected version did not hold, so nothing is
  // written then either.
  const fromInserted = events.length === 1 && eventMessages.length === messageRows.length;
  if (!newStream) {
    w.parts?.push(
      `cur AS (SELECT COALESCE(MAX(stream_version), 0) AS v FROM events WHERE stream_type = ${type} AND stream_id = ${id})`,
      input.raiseOnConflict
        ? `allowed AS (SELECT CASE WHEN ${expected}::int IS NULL OR v = ${expected}::int THEN v ELSE es_expected_version(${type}, ${id}, ${expected}::int, v) END AS v FROM cur)`
        : `allowed AS (SELECT v FROM cur WHERE ${expected}::int IS NULL OR v = ${expected}::int)`,
    );
  } else if (input.inbox || input.snapshot || input.summary) {
    w.parts?.push(`allowed AS (SELECT ${expected}::int AS v)`);
  }
  const columns = `stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata`;
  const returning = `RETURNING ${fromInserted ? '' : 'event_id, '}global_position, stream_version, recorded_at, transaction_id`;
  if (events.length > 0 && newStream) {
    w.parts?.push(`ins AS (
  INSERT INTO events (${columns})
  VALUES ${eventRows.join(',\n         ')}
  ${returning}
)`);
  } else if (events.length > 0) {
    w.parts?.push(`ins AS (
  INSERT INTO events (${columns})
  SELECT ${type}, ${id}, allowed.v + e.n, e.id, e.type, e.sv, e.data, ${metadata}
  FROM allowed, (VALUES ${eventRows.join(', ')}) AS e(id, type, sv, data, n)${events.length > 1 ? '\n  ORDER BY e.n' : ''}
  ${returning}
)`);
  }
  const outboxColumns = `topic, message_key, message_id, event_position, headers, payload`;
  const [only] = eventMessages;
  if (fromInserted && only && eventMessages.length === 1) {
    const [topic, eventId, headers] = only;
    w.parts?.push(`outboxed AS (
  INSERT INTO outbox (${outboxColumns})
  SELECT ${topic}, ${id}::text, ${eventId}, ins.global_position, ${headers}, NULL::jsonb FROM ins
)`);
  } else if (fromInserted && eventMessages.length > 1) {
    w.parts?.push(`outboxed AS (
  INSERT INTO outbox (${outboxColumns})
  SELECT o.topic, ${id}::text, o.id, ins.global_position, o.headers, NULL::jsonb
  FROM ins, (VALUES ${eventMessages.map((v, i) => `(${v.join(', ')}, ${i + 1})`).join(', ')}) AS o(topic, id, headers, m)
  ORDER BY o.m
)`);
  } else if (messageRows.length > 0) {
    const from = `${newStream ? '' : 'allowed, '}(VALUES ${messageRows.join(', ')}) AS o(topic, key, id, ref, headers, payload, m)`;
    w.parts?.push(`outboxed AS (
  INSERT INTO outbox (${outboxColumns})
  SELECT o.topic, o.key, o.id, ${events.length > 0 ? 'ins.global_position' : 'NULL::bigint'}, o.headers, o.payload
  FROM ${from}${events.length > 0 ? '\n  LEFT JOIN ins ON ins.event_id = o.ref' : ''}${
    messageRows.length > 1 ? '\n  ORDER BY o.m' : ''
  }
)`);
  }
  // Bound before their text is written: `w.parts?.push(...)` evaluates nothing for a known shape.
  if (input.inbox) {
    const { consumer, messageId, result } = input.inbox;
    const values = `${w.bind(consumer, 'text')}, ${w.bind(messageId, 'text')}, ${w.bind(result, 'jsonb')}`;
    w.parts?.push(`inboxed AS (
  INSERT INTO inbox (consumer, message_id, result) SELECT ${values} FROM allowed
)`);
  }
  if (input.snapshot) {
    const { schemaVersion, state } = input.snapshot;
    const values = `${w.bind(String(schemaVersion), 'int')}, ${w.bind(state, 'jsonb')}`;
    w.parts?.push(`snapshotted AS (
  INSERT INTO snapshots (stream_type, stream_id, stream_version, schema_version, state)
  SELECT ${type}, ${id}, allowed.v + ${events.length}, ${values} FROM allowed
  ON CONFLICT (stream_type, stream_id) DO UPDATE
    SET stream_version = EXCLUDED.stream_version, schema_version = EXCLUDED.schema_version,
        state = EXCLUDED.state, taken_at = now()
    WHERE snapshots.stream_version < EXCLUDED.stream_version
)`);
  }
  if (input.summary) {
    const { status, step, dueAt, startedAt } = input.summary;
    const values = `${w.bind(status, 'text')}, ${w.bind(step, 'text')}, ${w.bind(dueAt, 'timestamptz')}, ${w.bind(startedAt, 'timestamptz')}`;
    w.parts?.push(`summarized AS (
  INSERT INTO stream_summaries (stream_type, stream_id, stream_version, status, step, due_at, started_at)
  SELECT ${type}, ${id}, allowed.v + ${events.length}, ${values} FROM allowed
  ON CONFLICT (stream_type, stream_id) DO UPDATE
    SET stream_version = EXCLUDED.stream_version, status = EXCLUDED.status, step = EXCLUDED.step,
        due_at = EXCLUDED.due_at, started_at = EXCLUDED.started_at, updated_at = now()
    WHERE stream_summaries.stream_version < EXCLUDED.stream_version
)`);
  }
  // Wakes the relay if it sleeps: Postgres sends one notification at commit. With events it is
  // a condition on each returned row, always true, rather than a column to return and parse or
  // an aggregate subquery to plan (a CASE: the planner may not drop a volatile condition). It
  // runs once per event and not at all when the expected version failed: then nothing was
  // written. pg_notify returns void, which is not null. Without events an uncorrelated
  // subquery runs it once, when the expected version held.
  const tryLock = `pg_try_advisory_xact_lock_shared(${OUTBOX_WAKE_LOCK})`;
  const notifies = messageRows.length > 0;
  // Positions and transaction ids come back as bigint and xid8, which pg hands over as text.
  // The result is the statement's last part: `WITH` and the parts joined by commas before it.
  const result =
    events.length > 0
      ? `SELECT ins.stream_version, ins.global_position AS position,
       date_part('epoch', ins.recorded_at) * 1000 AS recorded_ms, ins.transaction_id
FROM ins${notifies ? `\nWHERE CASE WHEN ${tryLock} THEN true ELSE pg_notify('outbox', '') IS NOT NULL END` : ''}${events.length > 1 ? '\nORDER BY ins.stream_version' : ''}`
      : `SELECT EXISTS (SELECT 1 FROM allowed) AS allowed, (SELECT v FROM cur) AS current_version${notifies ? `,\n       (SELECT count(pg_notify('outbox', '')) FROM allowed WHERE NOT ${tryLock}) AS woken` : ''}`;
  const last = w.parts?.pop();
  if (last !== undefined) w.parts?.push(`${last}\n${result}`);
}
