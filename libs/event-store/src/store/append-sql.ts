// The append statement, generated for the shape of each append (how many events, which outbox
// messages, inbox mark or not, snapshot or not, new stream or not) with one scalar parameter
// per value. One generic statement that unpacked a JSON array cost the server up to 1.9 times
// the CPU of the raw two-row baseline per append; a statement with only the parts in use, and
// no JSON to unpack, about 1.35 times (docs/event-store.md). Each shape is prepared once per
// connection.

/** What one append writes, as far as the statement's text depends on it. */
export interface AppendShape {
  readonly events: number;
  /**
   * Per outbox message, in order: `e` publishes an appended event with headers of its own, `E`
   * one without (`{}`, no parameter), `p` carries a payload.
   */
  readonly outbox: string;
  readonly inbox: boolean;
  readonly snapshot: boolean;
  /**
   * Expected "no stream" with events to write: nothing to read, the primary key refuses an
   * existing stream's version 1 (a unique violation the store turns into its ConcurrencyError).
   */
  readonly newStream: boolean;
  /**
   * A failed expected version raises (es_expected_version, SQLSTATE ES409) instead of writing
   * nothing: one of several appends sent together (appendAll) must fail the whole batch.
   */
  readonly raiseOnConflict?: boolean;
}

/** Shapes up to this size are prepared and kept per connection; larger ones are planned each time. */
const PREPARED_LIMIT = 8;
/** PostgreSQL takes at most 65,535 parameters per statement. */
export const MAX_EVENTS_PER_APPEND = 10_000;
export const MAX_OUTBOX_PER_APPEND = 1_000;

const cache = new Map<string, { name: string | undefined; text: string }>();

/**
 * An event message of a one-event append points at that event's id parameter, $5, instead of
 * passing the id again: the store passes it only when this is false.
 */
export function messagesPassEventId(events: number): boolean {
  return events !== 1;
}

/** Without events, a new stream reads its version like any other: one statement, one name. */
function skipsVersionRead(shape: AppendShape): boolean {
  return shape.newStream && shape.events > 0;
}

export function shapeKey(shape: AppendShape): string {
  return `e${shape.events}.${shape.outbox || '-'}.${shape.inbox ? 'i' : '-'}${shape.snapshot ? 's' : '-'}${skipsVersionRead(shape) ? 'n' : ''}${shape.raiseOnConflict && !skipsVersionRead(shape) ? 'r' : ''}`;
}

/**
 * The statement for a shape. Parameters: $1 stream type, $2 stream id, $3 expected version
 * (null for any), $4 metadata (only when there are events); then per event id, type, schema
 * version, data; per event message topic, event id (not when the append has one event: it is
 * $5), headers (`e` only); per payload message topic, key, message id, headers, payload; inbox
 * consumer, message id, result; snapshot schema version, state. Each parameter costs the client
 * and the server a little: the common append, one event published without headers of its own,
 * passes 9 rather than 11.
 * Returns one row per appended event (version, position, recorded time in ms, transaction
 * id), in version order, and none when the expected version did not hold; without events, one
 * row: whether it held, and the stream's version.
 */
export function appendStatement(shape: AppendShape): { name: string | undefined; text: string } {
  const key = shapeKey(shape);
  const cached = cache.get(key);
  if (cached) return cached;
  const statement = {
    name:
      shape.events <= PREPARED_LIMIT && shape.outbox.length <= PREPARED_LIMIT
        ? `es_append_${key}`
        : undefined,
    text: buildAppendSql(shape),
  };
  if (statement.name) cache.set(key, statement);
  return statement;
}

/**
 * The relay holds this advisory lock (two-key form, so it never meets a one-key lock) while it
 * sleeps for a notification (outbox/relay.ts). An append that writes outbox rows tries to take
 * it shared, held until its commit: if it cannot, the relay sleeps and the append notifies.
 * Reading a flag from a table instead cost about 9 us of server CPU per append; the try costs
 * 0 to 5, within the measurement's noise (docs/event-store.md).
 */
export const OUTBOX_WAKE_LOCK = '1163087703, 1';

function buildAppendSql(shape: AppendShape): string {
  let next = shape.events > 0 ? 5 : 4; // $4, the events' metadata, only when there are events
  const param = (cast?: string) => `$${next++}${cast ? `::${cast}` : ''}`;
  // A new stream with events to write skips the version read (an index probe, ~10% of the
  // append's server CPU) and inserts its values as they are, with nothing to join: the primary
  // key refuses an existing stream's version 1, and that error aborts the whole statement.
  const newStream = skipsVersionRead(shape);
  const eventRows: string[] = [];
  for (let n = 1; n <= shape.events; n++) {
    const [id, type, sv, data] = [param('uuid'), param('text'), param('int'), param('jsonb')];
    eventRows.push(
      newStream
        ? `($1, $2, $3::int + ${n}, ${id}, ${type}, ${sv}, ${data}, $4::jsonb)`
        : `(${id}, ${type}, ${sv}, ${data}, ${n})`,
    );
  }
  const messageRows: string[] = [];
  const messageValues: string[][] = [];
  let m = 0;
  for (const kind of shape.outbox) {
    m++;
    if (kind === 'e' || kind === 'E') {
      // The event's id is its message id; its position is joined from the inserted row.
      const topic = param('text');
      const eventId = messagesPassEventId(shape.events) ? param('uuid') : '$5::uuid';
      const headers = kind === 'e' ? param('jsonb') : `'{}'::jsonb`;
      messageValues.push([topic, eventId, headers]);
      messageRows.push(
        `(${topic}, $2::text, ${eventId}, ${eventId}, ${headers}, NULL::jsonb, ${m})`,
      );
    } else {
      messageRows.push(
        `(${param('text')}, ${param('text')}, ${param('uuid')}, NULL::uuid, ${param('jsonb')}, ${param('jsonb')}, ${m})`,
      );
    }
  }
  // One event, only its messages: each row comes straight from the inserted event, with no
  // VALUES list to scan and no join to plan (about 5% of the append's server CPU, docs/event-store.md).
  // ins is empty when the expected version did not hold, so nothing is written then either.
  const fromInserted = shape.events === 1 && messageValues.length === messageRows.length;
  const parts: string[] = [];
  if (!newStream) {
    parts.push(
      `cur AS (SELECT COALESCE(MAX(stream_version), 0) AS v FROM events WHERE stream_type = $1 AND stream_id = $2)`,
      shape.raiseOnConflict
        ? `allowed AS (SELECT CASE WHEN $3::int IS NULL OR v = $3::int THEN v ELSE es_expected_version($1, $2, $3::int, v) END AS v FROM cur)`
        : `allowed AS (SELECT v FROM cur WHERE $3::int IS NULL OR v = $3::int)`,
    );
  } else if (shape.inbox || shape.snapshot) {
    parts.push(`allowed AS (SELECT $3::int AS v)`);
  }
  const columns = `stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata`;
  const returning = `RETURNING ${fromInserted ? '' : 'event_id, '}global_position, stream_version, recorded_at, transaction_id`;
  if (shape.events > 0 && newStream) {
    parts.push(`ins AS (
  INSERT INTO events (${columns})
  VALUES ${eventRows.join(',\n         ')}
  ${returning}
)`);
  } else if (shape.events > 0) {
    parts.push(`ins AS (
  INSERT INTO events (${columns})
  SELECT $1, $2, allowed.v + e.n, e.id, e.type, e.sv, e.data, $4::jsonb
  FROM allowed, (VALUES ${eventRows.join(', ')}) AS e(id, type, sv, data, n)${shape.events > 1 ? '\n  ORDER BY e.n' : ''}
  ${returning}
)`);
  }
  const outboxColumns = `topic, message_key, message_id, event_position, headers, payload`;
  const [only] = messageValues;
  if (fromInserted && only && messageValues.length === 1) {
    const [topic, eventId, headers] = only;
    parts.push(`outboxed AS (
  INSERT INTO outbox (${outboxColumns})
  SELECT ${topic}, $2::text, ${eventId}, ins.global_position, ${headers}, NULL::jsonb FROM ins
)`);
  } else if (fromInserted && messageValues.length > 1) {
    parts.push(`outboxed AS (
  INSERT INTO outbox (${outboxColumns})
  SELECT o.topic, $2::text, o.id, ins.global_position, o.headers, NULL::jsonb
  FROM ins, (VALUES ${messageValues.map((v, i) => `(${v.join(', ')}, ${i + 1})`).join(', ')}) AS o(topic, id, headers, m)
  ORDER BY o.m
)`);
  } else if (messageRows.length > 0) {
    const from = `${newStream ? '' : 'allowed, '}(VALUES ${messageRows.join(', ')}) AS o(topic, key, id, ref, headers, payload, m)`;
    parts.push(`outboxed AS (
  INSERT INTO outbox (${outboxColumns})
  SELECT o.topic, o.key, o.id, ${shape.events > 0 ? 'ins.global_position' : 'NULL::bigint'}, o.headers, o.payload
  FROM ${from}${shape.events > 0 ? '\n  LEFT JOIN ins ON ins.event_id = o.ref' : ''}${
    messageRows.length > 1 ? '\n  ORDER BY o.m' : ''
  }
)`);
  }
  if (shape.inbox) {
    parts.push(`inboxed AS (
  INSERT INTO inbox (consumer, message_id, result) SELECT ${param('text')}, ${param('text')}, ${param('jsonb')} FROM allowed
)`);
  }
  if (shape.snapshot) {
    parts.push(`snapshotted AS (
  INSERT INTO snapshots (stream_type, stream_id, stream_version, schema_version, state)
  SELECT $1, $2, allowed.v + ${shape.events}, ${param('int')}, ${param('jsonb')} FROM allowed
  ON CONFLICT (stream_type, stream_id) DO UPDATE
    SET stream_version = EXCLUDED.stream_version, schema_version = EXCLUDED.schema_version,
        state = EXCLUDED.state, taken_at = now()
    WHERE snapshots.stream_version < EXCLUDED.stream_version
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
  const result =
    shape.events > 0
      ? `SELECT ins.stream_version, ins.global_position AS position,
       date_part('epoch', ins.recorded_at) * 1000 AS recorded_ms, ins.transaction_id
FROM ins${notifies ? `\nWHERE CASE WHEN ${tryLock} THEN true ELSE pg_notify('outbox', '') IS NOT NULL END` : ''}${shape.events > 1 ? '\nORDER BY ins.stream_version' : ''}`
      : `SELECT EXISTS (SELECT 1 FROM allowed) AS allowed, (SELECT v FROM cur) AS current_version${notifies ? `,\n       (SELECT count(pg_notify('outbox', '')) FROM allowed WHERE NOT ${tryLock}) AS woken` : ''}`;
  return `WITH ${parts.join(',\n')}\n${result}`;
}
