// given(events).then(documents) for projections, through the runner's own path: each event is
// checked against its schema (prepare), routed, guarded by stream version and folded, one event
// at a time as Kafka would deliver it. Free of any test framework.
import {
  documentFields,
  projectEvents,
  type ProjectionFailure,
  type StoredDocument,
} from './apply';
import type { EventEnvelope } from '@es/messaging';
import type { Projection } from './projection';

export interface ProjectionOutcome<Doc> {
  /** Every document by id; null for one that evolve deleted. */
  readonly documents: Readonly<Record<string, Doc | null>>;
  /** Events that could not be projected (poison): why, per event. */
  readonly failures: readonly ProjectionFailure[];
  readonly duplicates: number;
}

export function projectionSpec<Doc extends object>(projection: Projection<Doc>) {
  return {
    given(...events: readonly EventEnvelope[]): ProjectionOutcome<Doc> {
      const stored = new Map<string, StoredDocument>();
      const failures: ProjectionFailure[] = [];
      let duplicates = 0;
      for (const envelope of events) {
        const prepared = projection.prepare(envelope);
        if (prepared === undefined) continue;
        if ('poison' in prepared) {
          failures.push({ event: envelope, error: prepared.poison });
          continue;
        }
        const result = projectEvents(projection, stored, [prepared]);
        failures.push(...result.failures);
        duplicates += result.duplicates;
        for (const change of result.changes) stored.set(change.document._id, change.document);
      }
      const documents: Record<string, Doc | null> = {};
      for (const [id, document] of stored) documents[id] = documentFields(document) as Doc | null;
      return { documents, failures, duplicates };
    },
  };
}

let position = 0;

/**
 * The envelopes of one stream's events, versions `from`, `from + 1`, ..., as the relay would
 * publish them; each event's time is `at` plus one second per event.
 */
export function streamEvents(
  streamType: string,
  streamId: string,
  events: readonly {
    readonly type: string;
    readonly data: unknown;
    readonly schemaVersion?: number;
  }[],
  { from = 1, at = '2026-11-23T10:00:00.000Z' }: { from?: number; at?: string } = {},
): EventEnvelope[] {
  const start = Date.parse(at);
  return events.map((event, index) => ({
    eventId: `${streamType}-${streamId}-${from + index}`,
    type: event.type,
    schemaVersion: event.schemaVersion ?? 1,
    streamType,
    streamId,
    streamVersion: from + index,
    globalPosition: String(++position),
    recordedAt: new Date(start + index * 1_000).toISOString(),
    data: event.data,
    metadata: { correlationId: `${streamType}-${streamId}` },
  }));
}
