// Writes a batch of events into a projection's collection with one read and one unordered
// bulkWrite, portable to MongoDB 7 and FerretDB 1.24 (docs/engines.md):
// - the batch's documents are loaded by id, the events folded with their stream-version guards
//   (a duplicate or an older redelivery changes nothing);
// - a changed document is replaced only if its revision is still the one loaded, a new one is
//   inserted; neither can fail for a stale event, because stale events never reach a write;
// - if another writer got there first (a rebalance overlaps two instances for a moment), the
//   write matches nothing or hits a duplicate _id: the whole batch is loaded and folded again,
//   which the guards make idempotent. FerretDB stops an unordered batch at its first error, so
//   a retry, not the rest of the batch, is what makes that safe.
import {
  MongoBulkWriteError,
  MongoServerError,
  type AnyBulkWriteOperation,
  type Collection,
} from 'mongodb';
import { projectEvents, type ProjectionFailure, type StoredDocument } from './apply';
import type { Envelope, Projection } from './projection';

const DUPLICATE_KEY = 11000;

export interface WriteOutcome {
  readonly applied: number;
  readonly duplicates: number;
  readonly documents: number;
  readonly failures: readonly ProjectionFailure[];
  /** Times the batch was folded again because another writer changed one of its documents. */
  readonly conflicts: number;
}

export class WriteConflictError extends Error {
  override name = 'WriteConflictError';
}

export class ProjectionWriter {
  constructor(
    private readonly projection: Projection,
    private readonly collection: Collection<StoredDocument>,
    private readonly maxConflicts = 10,
  ) {}

  async write(events: readonly Envelope[]): Promise<WriteOutcome> {
    for (let conflicts = 0; ; conflicts++) {
      const ids = new Set<string>();
      for (const event of events) {
        try {
          const id = this.projection.documentId(event);
          if (id !== undefined) ids.add(id);
        } catch {
          // projectEvents reports it as a failure of that event
        }
      }
      const loaded = new Map<string, StoredDocument>();
      if (ids.size > 0)
        for (const doc of await this.collection.find({ _id: { $in: [...ids] } }).toArray())
          loaded.set(doc._id, doc);
      const result = projectEvents(this.projection, loaded, events);
      if (await this.store(result.changes))
        return {
          applied: result.applied,
          duplicates: result.duplicates,
          documents: result.changes.length,
          failures: result.failures,
          conflicts,
        };
      if (conflicts >= this.maxConflicts)
        throw new WriteConflictError(
          `${this.projection.name}: a batch kept conflicting with another writer (${conflicts} times)`,
        );
    }
  }

  /** True when every change was written; false when another writer changed a document first. */
  private async store(
    changes: readonly { expectedRevision: number | null; document: StoredDocument }[],
  ): Promise<boolean> {
    if (changes.length === 0) return true;
    const operations: AnyBulkWriteOperation<StoredDocument>[] = changes.map((c) =>
      c.expectedRevision === null
        ? { insertOne: { document: c.document } }
        : {
            replaceOne: {
              filter: { _id: c.document._id, '_meta.revision': c.expectedRevision },
              replacement: c.document,
            },
          },
    );
    const replacements =
      operations.length - changes.filter((c) => c.expectedRevision === null).length;
    try {
      const result = await this.collection.bulkWrite(operations, { ordered: false });
      return result.matchedCount === replacements;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }
}

function isDuplicateKey(error: unknown): boolean {
  if (error instanceof MongoBulkWriteError)
    return (
      error.code === DUPLICATE_KEY ||
      [error.writeErrors].flat().some((e) => e.code === DUPLICATE_KEY)
    );
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}
