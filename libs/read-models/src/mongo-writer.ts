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
// - the documents it wrote or loaded are kept in a bounded cache, so most chunks read nothing:
//   a cached document that another writer changed since fails the compare-and-set, and that
//   chunk is loaded from the database again. Writing a generation that started empty (a
//   rebuild), a document neither cached nor written is taken as new: if it exists after all,
//   its insert hits the duplicate _id and the chunk is loaded again. A chunk in which an event
//   failed is always folded again on fresh reads before the failure counts as poison.
import {
  MongoBulkWriteError,
  MongoServerError,
  type AnyBulkWriteOperation,
  type Collection,
} from 'mongodb';
import { projectEvents, type ProjectionFailure, type StoredDocument } from './apply';
import type { EventEnvelope } from '@es/messaging';
import type { Projection } from './projection';

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

export interface WriterOptions {
  /** Documents kept in memory (least recently used dropped first); 50,000 by default. */
  readonly cacheSize?: number;
  /** The collection was empty when this writer started: uncached documents are taken as new. */
  readonly startedEmpty?: boolean;
  readonly maxConflicts?: number;
}

export class ProjectionWriter {
  /** A document as last written or read; null: known not to exist. */
  private readonly cache = new Map<string, StoredDocument | null>();
  private readonly cacheSize: number;
  private readonly startedEmpty: boolean;
  private readonly maxConflicts: number;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly projection: Projection,
    private readonly collection: Collection<StoredDocument>,
    options: WriterOptions = {},
  ) {
    this.cacheSize = options.cacheSize ?? 50_000;
    this.startedEmpty = options.startedEmpty ?? false;
    this.maxConflicts = options.maxConflicts ?? 10;
  }

  /**
   * Writes are serialized within the process. A runner writes several partitions at once, and
   * a document fed by several topics (order details: orders.events and sagas.events) is then
   * written concurrently; stock FerretDB 1.24's conditional replace was not atomic and lost such
   * updates (patched since; docs/engines.md), and concurrent writers only queue on SQLite's
   * single write lock anyway. MongoDB's replace is atomic; there this costs a little overlap.
   */
  write(events: readonly EventEnvelope[]): Promise<WriteOutcome> {
    const run = this.tail.then(() => this.writeNow(events));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async writeNow(events: readonly EventEnvelope[]): Promise<WriteOutcome> {
    const ids = new Set<string>();
    for (const event of events) {
      try {
        const id = this.projection.documentId(event);
        if (id !== undefined) ids.add(id);
      } catch {
        // projectEvents reports it as a failure of that event
      }
    }
    for (let conflicts = 0; ; conflicts++) {
      // After a conflict, trust nothing cached about this chunk's documents.
      if (conflicts > 0) for (const id of ids) this.cache.delete(id);
      const loaded = await this.load(ids, conflicts === 0 && this.startedEmpty);
      const result = projectEvents(this.projection, loaded, events);
      // An event that failed on cached or guessed documents may have failed because the guess
      // was wrong (a document taken as new that exists), and a failure writes nothing that
      // would reveal it: fold once more on what the database holds before calling it poison.
      if (conflicts === 0 && result.failures.length > 0) continue;
      if (await this.store(result.changes)) {
        for (const change of result.changes) this.remember(change.document._id, change.document);
        return {
          applied: result.applied,
          duplicates: result.duplicates,
          documents: result.changes.length,
          failures: result.failures,
          conflicts,
        };
      }
      if (conflicts >= this.maxConflicts)
        throw new WriteConflictError(
          `${this.projection.name}: a batch kept conflicting with another writer (${conflicts} times)`,
        );
    }
  }

  /** The chunk's documents: from the cache, else (unless taken as new) from the database. */
  private async load(
    ids: ReadonlySet<string>,
    uncachedAreNew: boolean,
  ): Promise<Map<string, StoredDocument>> {
    const loaded = new Map<string, StoredDocument>();
    const missing: string[] = [];
    for (const id of ids) {
      const cached = this.cache.get(id);
      if (cached) loaded.set(id, cached);
      else if (cached === undefined && !uncachedAreNew) missing.push(id);
    }
    if (missing.length > 0) {
      const found = await this.collection.find({ _id: { $in: missing } }).toArray();
      for (const doc of found) loaded.set(doc._id, doc);
      for (const id of missing) this.remember(id, loaded.get(id) ?? null);
    }
    return loaded;
  }

  private remember(id: string, doc: StoredDocument | null): void {
    this.cache.delete(id); // re-inserted last: the most recently used
    this.cache.set(id, doc);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
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

/** MongoDB's (and FerretDB's) duplicate key error, alone or in a bulk write's errors. */
export function isDuplicateKey(error: unknown): boolean {
  if (error instanceof MongoBulkWriteError)
    return (
      error.code === DUPLICATE_KEY ||
      [error.writeErrors].flat().some((e) => e.code === DUPLICATE_KEY)
    );
  return error instanceof MongoServerError && error.code === DUPLICATE_KEY;
}
