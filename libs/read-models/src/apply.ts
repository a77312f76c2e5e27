// The fold the runner and the specs share: route each event to its document, skip what the
// document already reflects, evolve the rest. A document records the version it has seen of each
// stream that feeds it, so a duplicate or an older redelivery is skipped, never re-applied: a
// replay can never move a document backwards. Pure; the MongoDB writer loads and stores.
import { streamKey, type EventEnvelope } from '@es/messaging';
import type { Projection } from './projection';

export interface StreamVersion {
  /** `<stream type>/<stream id>`, as in consistency tokens. */
  readonly stream: string;
  readonly version: number;
}

export interface DocumentMeta {
  /** The version seen of each stream that fed this document. */
  readonly versions: readonly StreamVersion[];
  /** Bumped by every write: the compare-and-set guard between concurrent writers. */
  readonly revision: number;
  /** The last applied event's global position (in its own service's store) and time. */
  readonly position: string;
  readonly updatedAt: string;
  /** evolve returned null: kept as a tombstone so its versions still guard it. */
  readonly deleted?: boolean;
}

/** A document as stored: the projection's fields, its id, and `_meta`. */
export type StoredDocument = { readonly _id: string; readonly _meta: DocumentMeta } & Readonly<
  Record<string, unknown>
>;

export interface ProjectionFailure {
  readonly event: EventEnvelope;
  readonly error: string;
}

export interface DocumentChange {
  /** The revision the write expects to replace; null for a document not stored yet. */
  readonly expectedRevision: number | null;
  readonly document: StoredDocument;
}

export interface Projected {
  readonly changes: readonly DocumentChange[];
  readonly applied: number;
  /** Events the documents already reflected (duplicates, older redeliveries). */
  readonly duplicates: number;
  /** Events whose evolve threw: poison, for the dead-letter topic. */
  readonly failures: readonly ProjectionFailure[];
}

export function versionOf(meta: DocumentMeta | undefined, stream: string): number {
  return meta?.versions.find((v) => v.stream === stream)?.version ?? 0;
}

interface Working {
  readonly expectedRevision: number | null;
  doc: object | null;
  meta: DocumentMeta;
  changed: boolean;
}

/** The projection's own fields of a stored document; null for a tombstone. */
export function documentFields(stored: StoredDocument): Record<string, unknown> | null {
  if (stored._meta.deleted) return null;
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(stored))
    if (key !== '_id' && key !== '_meta') fields[key] = value;
  return fields;
}

/** Folds prepared events (in order) into the loaded documents; returns what to write. */
export function projectEvents(
  projection: Projection,
  loaded: ReadonlyMap<string, StoredDocument>,
  events: readonly EventEnvelope[],
): Projected {
  const working = new Map<string, Working>();
  let applied = 0;
  let duplicates = 0;
  const failures: ProjectionFailure[] = [];
  for (const event of events) {
    let id: string | undefined;
    try {
      id = projection.documentId(event);
    } catch (error) {
      failures.push({ event, error: describe(error) });
      continue;
    }
    if (id === undefined) continue;
    let entry = working.get(id);
    if (!entry) {
      const stored = loaded.get(id);
      entry = stored
        ? {
            expectedRevision: stored._meta.revision,
            doc: documentFields(stored),
            meta: stored._meta,
            changed: false,
          }
        : {
            expectedRevision: null,
            doc: null,
            meta: { versions: [], revision: 0, position: '0', updatedAt: event.recordedAt },
            changed: false,
          };
      working.set(id, entry);
    }
    const stream = streamKey({ type: event.streamType, id: event.streamId });
    if (versionOf(entry.meta, stream) >= event.streamVersion) {
      duplicates++;
      continue;
    }
    try {
      entry.doc = projection.evolve(entry.doc, event);
    } catch (error) {
      failures.push({ event, error: describe(error) });
      continue;
    }
    entry.meta = {
      versions: [
        ...entry.meta.versions.filter((v) => v.stream !== stream),
        { stream, version: event.streamVersion },
      ],
      revision: entry.meta.revision,
      position: event.globalPosition,
      updatedAt: event.recordedAt,
      ...(entry.doc === null ? { deleted: true } : {}),
    };
    entry.changed = true;
    applied++;
  }
  const changes: DocumentChange[] = [];
  for (const [id, entry] of working) {
    if (!entry.changed) continue;
    changes.push({
      expectedRevision: entry.expectedRevision,
      document: {
        ...(entry.doc ?? {}),
        _id: id,
        _meta: { ...entry.meta, revision: (entry.expectedRevision ?? 0) + 1 },
      },
    });
  }
  return { changes, applied, duplicates, failures };
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
