// Reading one stream: its events in version order (all of them, after a version, or as it was
// at a version or a time: the temporal reads), its current version, and the streams of a type
// that have a given event. Every event is upcast to its type's current schema version.
import type { EventRegistry } from '../upcasting/registry';
import type { RecordedEvent, StreamRef } from '../store/types';
import { EVENT_COLUMNS, recordedFromRows, storedFromRow, type EventRow } from './event-row';
import type { PersonalDataCipher } from '../privacy/personal-data';
import type { Queryable } from './queryable';

export interface ReadStreamOptions {
  /** Only events after this version. */
  readonly afterVersion?: number;
  /** Only events up to and including this version (temporal read by version). */
  readonly toVersion?: number;
  /** Only events recorded at or before this time (temporal read by time). */
  readonly asOf?: Date;
  /**
   * The events as stored: their schema versions and data as written (personal fields sealed),
   * not upcast nor opened (the stream browser's raw view).
   */
  readonly raw?: boolean;
}

/** The stream's events in version order, upcast to their current schema versions. */
export async function readStream(
  db: Queryable,
  registry: EventRegistry,
  stream: StreamRef,
  options: ReadStreamOptions = {},
  cipher?: PersonalDataCipher,
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
  if (options.raw) return rows.map(storedFromRow);
  return recordedFromRows(rows, registry, cipher);
}

export async function currentVersion(db: Queryable, stream: StreamRef): Promise<number> {
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
export async function findStreams(
  db: Queryable,
  streamType: string,
  eventType: string,
  match: Readonly<Record<string, string | number>>,
  limit: number,
): Promise<string[]> {
  const { rows } = await db.query<{ stream_id: string }>(
    `SELECT stream_id FROM events
     WHERE stream_type = $1 AND event_type = $2 AND data @> $3::jsonb
     ORDER BY global_position DESC LIMIT $4`,
    [streamType, eventType, JSON.stringify(match), limit],
  );
  return rows.map((r) => r.stream_id);
}

/** The recorded result of a handled message, if this consumer handled it (the inbox). */
export async function handled(
  db: Queryable,
  consumer: string,
  messageId: string,
): Promise<{ result: unknown } | undefined> {
  const { rows } = await db.query<{ result: unknown }>({
    name: 'es_inbox_lookup',
    text: 'SELECT result FROM inbox WHERE consumer = $1 AND message_id = $2',
    values: [consumer, messageId],
  });
  return rows[0];
}
