// Snapshots: a stream's state at a version, stored with the snapshot's own schema version. A
// snapshot of another schema version is ignored, never misread; loading an aggregate reads its
// snapshot and the events after it in one statement. An append writes the snapshot in its own
// statement (append-statement.ts) when the aggregate's policy says one is due.
import type { EventRegistry } from '../upcasting/registry';
import type { RecordedEvent, StreamRef } from '../store/types';
import { EVENT_COLUMNS, recordedFromRow, type EventRow } from '../read/event-row';
import type { Queryable } from '../read/queryable';

export interface Snapshot {
  readonly streamVersion: number;
  readonly schemaVersion: number;
  readonly state: unknown;
}

/** A snapshot is due when an append crosses a multiple of `every` events. */
export function snapshotDue(every: number, fromVersion: number, toVersion: number): boolean {
  return toVersion > fromVersion && Math.floor(toVersion / every) > Math.floor(fromVersion / every);
}

/**
 * The stream's snapshot of this schema version (a snapshot of another is ignored; with no
 * schema version, none is read) and the events after it, in ONE round trip: loading an
 * aggregate costs one query, not two. Given an inbox entry, the same statement says whether
 * that message was handled (and its recorded result): the command handler's duplicate check
 * rides on the load instead of costing a round trip of its own.
 */
export async function readFromSnapshot(
  db: Queryable,
  registry: EventRegistry,
  stream: StreamRef,
  schemaVersion: number | undefined,
  options: { readonly inbox?: { readonly consumer: string; readonly messageId: string } } = {},
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
    .map((r) => recordedFromRow(r, registry));
  return first?.handled
    ? { snapshot, events, handled: { result: first.handled_result } }
    : { snapshot, events };
}
