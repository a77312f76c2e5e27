// An event row as PostgreSQL returns it, and the event it is once upcast: every read path
// (stream, all, snapshot load, relay) turns rows into events here.
import type { EventRegistry } from '../upcasting/registry';
import type { EventMetadata } from '@es/messaging';
import type { RecordedEvent } from '../store/types';
import type { PersonalDataCipher } from '../privacy/personal-data';

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

/** An event row as read, upcast to its type's current schema version. */
export function recordedFromRow(row: EventRow, registry: EventRegistry): RecordedEvent {
  return eventOf(
    row,
    registry.upcast({ type: row.event_type, schemaVersion: row.schema_version, data: row.data }),
  );
}

/** An event row as stored: its type, schema version and data as written. */
export function storedFromRow(row: EventRow): RecordedEvent {
  return eventOf(row, { type: row.event_type, schemaVersion: row.schema_version, data: row.data });
}

function eventOf(
  row: EventRow,
  { type, schemaVersion, data }: { type: string; schemaVersion: number; data: unknown },
): RecordedEvent {
  return {
    eventId: row.event_id,
    type,
    schemaVersion,
    data,
    metadata: row.metadata,
    streamType: row.stream_type,
    streamId: row.stream_id,
    streamVersion: row.stream_version,
    globalPosition: BigInt(row.global_position),
    recordedAt: new Date(row.recorded_at),
    transactionId: BigInt(row.transaction_id),
  };
}

/** Rows as read, upcast; with a cipher, their personal fields opened first (upcasters see values). */
export async function recordedFromRows(
  rows: readonly EventRow[],
  registry: EventRegistry,
  cipher: PersonalDataCipher | undefined,
): Promise<RecordedEvent[]> {
  if (!cipher) return rows.map((r) => recordedFromRow(r, registry));
  const opened = await Promise.all(
    rows.map(async (r) => ({ ...r, data: await cipher.open(r.data) })),
  );
  return opened.map((r) => recordedFromRow(r, registry));
}
