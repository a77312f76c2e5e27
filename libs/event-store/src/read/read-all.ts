// Reading every stream's events in commit order, from a checkpoint, without ever skipping a
// transaction that commits late (docs/event-store.md, Reading all events without skipping a
// late commit).
import type { EventRegistry } from '../upcasting/registry';
import type { AllCheckpoint, RecordedEvent } from '../store/types';
import { EVENT_COLUMNS, recordedFromRows, type EventRow } from './event-row';
import type { PersonalDataCipher } from '../privacy/personal-data';
import type { Queryable } from './queryable';

/**
 * Events of every stream after a checkpoint, at most `limit`, upcast. Only rows written by
 * transactions older than every transaction still running are read, in (transaction,
 * position) order, so a transaction that commits late is read after the ones before it,
 * never skipped; a rolled-back one leaves nothing to wait for.
 */
export async function readAll(
  db: Queryable,
  registry: EventRegistry,
  after: AllCheckpoint,
  limit: number,
  cipher?: PersonalDataCipher,
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
  const events = await recordedFromRows(rows, registry, cipher);
  const last = events.at(-1);
  return {
    events,
    checkpoint: last ? { transactionId: last.transactionId, position: last.globalPosition } : after,
  };
}
