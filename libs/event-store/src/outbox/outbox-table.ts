// The outbox table as the relay reads and keeps it: a batch of rows after the published mark,
// read behind the xmin horizon so that a transaction committing late is never skipped
// (docs/event-store.md, Relay), each row turned into its message (an event's row through the
// one envelope, upcast; another message as it was written); the mark moved past a batch once
// the broker acknowledged it; published rows purged after their retention; the backlog.
import { eventMessage, type OutboundMessage } from '@es/messaging';
import type { Client } from 'pg';
import { recordedFromRow, type EventRow } from '../read/event-row';
import type { EventRegistry } from '../upcasting/registry';

/** Every outbox row at or before this (transaction, id) is published. */
export interface OutboxMark {
  readonly transactionId: string;
  readonly id: string;
}

/** The event columns are null for messages that carry their own payload (LEFT JOIN). */
type Nullable<T> = { [K in keyof T]: T[K] | null };

interface OutboxRow extends Nullable<EventRow> {
  outbox_transaction_id: string;
  id: string;
  topic: string;
  message_key: string;
  message_id: string;
  headers: Record<string, string>;
  payload: unknown;
  /** numeric: pg returns it as a string */
  age_ms: string;
}

/** An outbox row's own columns, as the relay reads them from the table or from the WAL. */
export interface OutboxColumns {
  readonly topic: string;
  readonly message_key: string;
  readonly message_id: string;
  readonly headers: Record<string, string>;
  readonly payload: unknown;
}

/** An outbox row as the message it publishes: an event's (its row given) with its envelope, upcast. */
export function outboxMessage(
  row: OutboxColumns,
  event: EventRow | undefined,
  registry: EventRegistry,
): OutboundMessage {
  const base = { topic: row.topic, key: row.message_key, messageId: row.message_id };
  if (!event) return { ...base, headers: row.headers, payload: row.payload };
  const message = eventMessage(recordedFromRow(event, registry));
  return { ...base, headers: { ...message.headers, ...row.headers }, payload: message.payload };
}

function messageOf(row: OutboxRow, registry: EventRegistry): OutboundMessage {
  const event = row.global_position === null ? undefined : (row as OutboxRow & EventRow);
  return outboxMessage(row, event, registry);
}

/**
 * The next batch after `mark`, at most `limit` rows, in (transaction, id) order. Behind the
 * horizon (the polling relay): only rows of transactions older than every running one. Not
 * behind it: every row this transaction's snapshot sees (the decoding relay's catch-up, in the
 * snapshot its new replication slot exported, where everything visible committed before the
 * slot's first transaction).
 */
export async function readOutbox(
  client: Client,
  registry: EventRegistry,
  mark: OutboxMark,
  limit: number,
  behindHorizon = true,
): Promise<{ messages: OutboundMessage[]; ageMs: number[]; last: OutboxMark | undefined }> {
  const { rows } = await client.query<OutboxRow>({
    name: behindHorizon ? 'outbox_batch' : 'outbox_snapshot_batch',
    text: `SELECT o.transaction_id::text AS outbox_transaction_id, o.id, o.topic, o.message_key, o.message_id, o.headers, o.payload,
                  extract(epoch FROM clock_timestamp() - o.created_at) * 1000 AS age_ms,
                  e.global_position, e.stream_type, e.stream_id, e.stream_version, e.event_id, e.event_type,
                  e.schema_version, e.data, e.metadata, e.recorded_at, e.transaction_id
           -- LATERAL: one index probe per row. A plain join let the planner merge on the
           -- transaction alone, quadratic for a large transaction (2,600 rows/s drained).
           FROM outbox o LEFT JOIN LATERAL (
             SELECT * FROM events e
             WHERE e.transaction_id = o.transaction_id AND e.global_position = o.event_position
             LIMIT 1) e ON true
           WHERE (o.transaction_id, o.id) > ($1::text::xid8, $2::bigint)
             ${behindHorizon ? 'AND o.transaction_id < pg_snapshot_xmin(pg_current_snapshot())' : ''}
           ORDER BY o.transaction_id, o.id
           LIMIT $3`,
    values: [mark.transactionId, mark.id, limit],
  });
  const last = rows.at(-1);
  return {
    messages: rows.map((r) => messageOf(r, registry)),
    ageMs: rows.map((r) => Number(r.age_ms)),
    last: last && { transactionId: last.outbox_transaction_id, id: last.id },
  };
}

/** Moves the published mark past a batch the broker acknowledged: one row written per batch. */
export async function markPublished(client: Client, mark: OutboxMark): Promise<void> {
  await client.query({
    name: 'outbox_mark',
    text: `UPDATE outbox_relay_state
           SET published_transaction_id = $1::text::xid8, published_id = $2, published_at = now()
           WHERE id = 1`,
    values: [mark.transactionId, mark.id],
  });
}

/** Deletes published rows older than the retention; at most 50,000 rows a time. */
export async function purgePublished(client: Client, retentionMs: number): Promise<void> {
  await client.query(
    `DELETE FROM outbox WHERE ctid = ANY(ARRAY(
       SELECT o.ctid FROM outbox o, outbox_relay_state s
       WHERE s.id = 1 AND (o.transaction_id, o.id) <= (s.published_transaction_id, s.published_id)
         AND o.created_at < now() - make_interval(secs => $1)
       LIMIT 50000))`,
    [retentionMs / 1000],
  );
}

/** Backlog figures for metrics and admin endpoints. */
export async function outboxBacklog(db: {
  query: Client['query'];
}): Promise<{ unpublished: number; oldestAgeSeconds: number }> {
  const { rows } = await db.query<{ unpublished: string; oldest: string | null }>(
    `SELECT count(*) AS unpublished, extract(epoch FROM clock_timestamp() - min(o.created_at)) AS oldest
     FROM outbox o, outbox_relay_state s
     WHERE s.id = 1 AND (o.transaction_id, o.id) > (s.published_transaction_id, s.published_id)`,
  );
  return {
    unpublished: Number(rows[0]?.unpublished ?? 0),
    oldestAgeSeconds: Number(rows[0]?.oldest ?? 0),
  };
}
