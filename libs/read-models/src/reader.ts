// The query side's access to read models: the active generation's collection (from the registry,
// cached for a second; a retired one stays readable for longer than that), documents without
// their bookkeeping, and read-your-writes: given a command's consistency token, a read waits,
// bounded, until the document has seen the token's stream at the token's version, and otherwise
// fails with NotYetConsistentError (409), never with stale data.
//
// Every read is bounded by an operation timeout (MONGO_OPERATION_TIMEOUT_MS): a database that
// accepts connections and stops answering (a stalled server, a partition that drops packets)
// fails the read with ReadModelUnavailableError (503) at that bound, instead of holding the
// request for as long as the driver waits for its socket. A consistency wait ends at its own
// deadline by a timer of its own, whatever its polls are doing; if its last poll failed, it is a
// 503 too (the read model could not be asked), not a 409.
import type { Collection, Db, Filter, Sort } from 'mongodb';
import type { ConsistencyToken } from '@es/event-store';
import { encodeConsistencyToken } from '@es/event-store';
import { documentFields, versionOf, type StoredDocument } from './apply';
import { REGISTRY_COLLECTION, generationOf, type RegistryEntry } from './registry';

export class NotYetConsistentError extends Error {
  override name = 'NotYetConsistentError';
  constructor(
    readonly projection: string,
    readonly token: ConsistencyToken,
    /** The version of the token's stream the read model had reached. */
    readonly seenVersion: number,
    readonly waitedMs: number,
  ) {
    super(
      `the ${projection} read model has not reached ${encodeConsistencyToken(token)} within ${waitedMs} ms (it has seen version ${seenVersion})`,
    );
  }
}

/**
 * The read model's database did not answer within the operation timeout, or could not be asked.
 * `code` says ETIMEDOUT, which the HTTP layer answers with 503 ENGINE_UNAVAILABLE.
 */
export class ReadModelUnavailableError extends Error {
  override name = 'ReadModelUnavailableError';
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly projection: string,
    readonly waitedMs: number,
    options?: { cause?: unknown },
  ) {
    super(`the ${projection} read model's database did not answer within ${waitedMs} ms`, options);
  }
}

export interface ReadModelsOptions {
  /** How long the registry's answer (the active collection) is kept; 1 s. */
  readonly cacheMs?: number;
  /** A consistency wait's bound when the read gives none; 2 s. */
  readonly defaultTimeoutMs?: number;
  /** The bound of each read of the database; 5 s. */
  readonly operationTimeoutMs?: number;
}

export interface ReadOptions {
  readonly consistentWith?: ConsistencyToken;
  /** How long to wait for the token; 2 s by default. */
  readonly timeoutMs?: number;
}

export interface ListOptions<Doc> {
  readonly filter: Filter<Doc>;
  readonly sort?: Sort;
  readonly limit: number;
  readonly skip?: number;
}

interface Waiter {
  readonly id: string;
  readonly stream: string;
  readonly token: ConsistencyToken;
  readonly started: number;
  readonly deadline: number;
  seen: number;
  /** Its own deadline: the wait ends then, whatever the polls are doing. */
  timer: { current: NodeJS.Timeout | undefined } | undefined;
  resolve(doc: StoredDocument): void;
  reject(seen: number, waitedMs: number): void;
}

export class ReadModels {
  private readonly active = new Map<string, { collection: string; until: number }>();
  private readonly waiters = new Map<
    string,
    {
      collection: Collection<StoredDocument>;
      waiting: Set<Waiter>;
      /** The last poll's failure (a timeout, the database away), cleared by a poll that reads. */
      failed?: unknown;
    }
  >();
  private polling: NodeJS.Timeout | undefined;
  private readonly operationTimeoutMs: number;

  constructor(
    private readonly db: Db,
    private readonly options: ReadModelsOptions = {},
  ) {
    this.operationTimeoutMs = options.operationTimeoutMs ?? 5_000;
  }

  /** The read's result, or ReadModelUnavailableError once the operation timeout has passed. */
  private async bounded<T>(projection: string, read: Promise<T>): Promise<T> {
    const started = Date.now();
    const result = await within(read, started + this.operationTimeoutMs);
    if (result === TIMED_OUT) throw new ReadModelUnavailableError(projection, Date.now() - started);
    return result;
  }

  /** The document, once it reflects the token if one is given; undefined when there is none. */
  async get<Doc extends object>(
    projection: string,
    id: string,
    options: ReadOptions = {},
  ): Promise<Doc | undefined> {
    const stored = options.consistentWith
      ? await this.waitFor(projection, id, options.consistentWith, options.timeoutMs)
      : await this.bounded(
          projection,
          this.collection(projection).then((c) =>
            c.findOne({ _id: id }, { maxTimeMS: this.operationTimeoutMs }),
          ),
        );
    return stored ? ((documentFields(stored) as Doc | null) ?? undefined) : undefined;
  }

  /**
   * A query over the active collection. With a token, it first waits until the document the
   * token's write changed (`tokenDocument`, by default the token's stream id) reflects it, in the
   * same collection it then queries.
   */
  async list<Doc extends object>(
    projection: string,
    list: ListOptions<Doc>,
    options: ReadOptions & { readonly tokenDocument?: string } = {},
  ): Promise<Doc[]> {
    const token = options.consistentWith;
    const collection = token
      ? (
          await this.waitInActive(
            projection,
            options.tokenDocument ?? token.stream.id,
            token,
            options.timeoutMs,
          )
        ).collection
      : await this.bounded(projection, this.collection(projection));
    const cursor = collection.find(
      { ...(list.filter as Filter<StoredDocument>), '_meta.deleted': { $ne: true } },
      { maxTimeMS: this.operationTimeoutMs },
    );
    if (list.sort) cursor.sort(list.sort);
    if (list.skip) cursor.skip(list.skip);
    const docs = await this.bounded(projection, cursor.limit(list.limit).toArray());
    return docs.flatMap((d) => (documentFields(d) as Doc | null) ?? []);
  }

  /** Waits until the document has seen the token's stream at the token's version. */
  async waitFor(
    projection: string,
    id: string,
    token: ConsistencyToken,
    timeoutMs?: number,
  ): Promise<StoredDocument | null> {
    return (await this.waitInActive(projection, id, token, timeoutMs)).doc;
  }

  /** waitIn on the active collection, whose lookup counts against the same time. */
  private async waitInActive(
    projection: string,
    id: string,
    token: ConsistencyToken,
    timeoutMs = this.options.defaultTimeoutMs ?? 2_000,
  ): Promise<{ collection: Collection<StoredDocument>; doc: StoredDocument | null }> {
    const started = Date.now();
    const collection = await this.withinWait(
      projection,
      token,
      this.collection(projection),
      started,
      started + timeoutMs,
    );
    const left = timeoutMs - (Date.now() - started);
    return { collection, doc: await this.waitIn(projection, collection, id, token, left) };
  }

  /**
   * One read at once; if it is not there yet, the wait joins the collection's waiters, which one
   * loop serves with a single `_id: {$in}` read every 20 ms, however many requests wait (so two
   * hundred waiting reads cost the database one query per tick, not two hundred).
   */
  private async waitIn(
    projection: string,
    collection: Collection<StoredDocument>,
    id: string,
    token: ConsistencyToken,
    timeoutMs: number,
  ): Promise<StoredDocument | null> {
    const stream = `${token.stream.type}/${token.stream.id}`;
    const started = Date.now();
    const deadline = started + timeoutMs;
    // The first read is bounded too: by the wait's deadline (409) or the operation timeout (503).
    const first = await this.withinWait(
      projection,
      token,
      collection.findOne({ _id: id }, { maxTimeMS: this.operationTimeoutMs }),
      started,
      deadline,
    );
    if (versionOf(first?._meta, stream) >= token.version) return first;
    const key = collection.collectionName;
    const group = this.waiters.get(key) ?? { collection, waiting: new Set<Waiter>() };
    this.waiters.set(key, group);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        id,
        stream,
        token,
        started,
        deadline,
        seen: versionOf(first?._meta, stream),
        timer: undefined,
        resolve: (doc) => {
          clearTimeout(waiter.timer?.current);
          resolve(doc);
        },
        reject: (seen, waited) => {
          clearTimeout(waiter.timer?.current);
          reject(
            group.failed === undefined
              ? new NotYetConsistentError(projection, token, seen, waited)
              : new ReadModelUnavailableError(projection, waited, { cause: group.failed }),
          );
        },
      };
      waiter.timer = atDeadline(deadline, () => {
        if (!group.waiting.delete(waiter)) return;
        waiter.reject(waiter.seen, Date.now() - started);
      });
      group.waiting.add(waiter);
      this.pollSoon();
    });
  }

  /**
   * A read of a consistency wait: NotYetConsistentError at the wait's deadline, or
   * ReadModelUnavailableError at the operation timeout if that comes first.
   */
  private async withinWait<T>(
    projection: string,
    token: ConsistencyToken,
    read: Promise<T>,
    started: number,
    deadline: number,
  ): Promise<T> {
    const opDeadline = Date.now() + this.operationTimeoutMs;
    const result = await within(read, Math.min(deadline, opDeadline));
    if (result !== TIMED_OUT) return result;
    const waited = Date.now() - started;
    if (opDeadline < deadline) throw new ReadModelUnavailableError(projection, waited);
    throw new NotYetConsistentError(projection, token, 0, waited);
  }

  private pollSoon(): void {
    if (this.polling) return;
    this.polling = setTimeout(() => {
      void this.poll().finally(() => {
        this.polling = undefined;
        if ([...this.waiters.values()].some((g) => g.waiting.size > 0)) this.pollSoon();
      });
    }, 20);
  }

  private async poll(): Promise<void> {
    for (const [key, group] of this.waiters) {
      if (group.waiting.size === 0) {
        this.waiters.delete(key);
        continue;
      }
      const ids = [...new Set([...group.waiting].map((w) => w.id))];
      let found: Map<string, StoredDocument>;
      try {
        const docs = await this.bounded(
          key,
          group.collection
            .find({ _id: { $in: ids } }, { maxTimeMS: this.operationTimeoutMs })
            .toArray(),
        );
        found = new Map(docs.map((d) => [d._id, d]));
        delete group.failed;
      } catch (error) {
        // The database is away: the waits run on to their deadline (their own timers).
        group.failed = error;
        found = new Map();
      }
      const now = Date.now();
      for (const waiter of group.waiting) {
        const doc = found.get(waiter.id) ?? null;
        const seen = Math.max(waiter.seen, versionOf(doc?._meta, waiter.stream));
        if (seen >= waiter.token.version && doc) {
          group.waiting.delete(waiter);
          waiter.resolve(doc);
        } else if (now >= waiter.deadline) {
          group.waiting.delete(waiter);
          waiter.reject(seen, now - waiter.started);
        } else waiter.seen = seen;
      }
    }
  }

  private async collection(projection: string): Promise<Collection<StoredDocument>> {
    const cached = this.active.get(projection);
    if (cached && cached.until > Date.now())
      return this.db.collection<StoredDocument>(cached.collection);
    const entry = await this.db
      .collection<RegistryEntry>(REGISTRY_COLLECTION)
      .findOne(
        { _id: projection },
        { projection: { active: 1 }, maxTimeMS: this.operationTimeoutMs },
      );
    // Before the projection service first ran there is no entry: generation 1, still empty.
    const name =
      entry?.active.collection ??
      generationOf(this.db.databaseName, projection, 1, new Date()).collection;
    this.active.set(projection, {
      collection: name,
      until: Date.now() + (this.options.cacheMs ?? 1_000),
    });
    return this.db.collection<StoredDocument>(name);
  }
}

const TIMED_OUT = Symbol('timed out');

/** The promise's value, or TIMED_OUT if it has not settled by the deadline. */
async function within<T>(promise: Promise<T>, deadline: number): Promise<T | typeof TIMED_OUT> {
  let timer: { current: NodeJS.Timeout | undefined } | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = atDeadline(deadline, () => {
          resolve(TIMED_OUT);
        });
      }),
    ]);
  } finally {
    clearTimeout(timer?.current);
  }
}

/**
 * Runs `then` once Date.now() has reached `deadline`. A timer can fire a millisecond before the
 * clock says its delay has passed (seen: a 300 ms wait that reported 299 ms); it is set again
 * for what is left, so whoever is told "the deadline passed" can count on it. Clear `current`.
 */
function atDeadline(deadline: number, then: () => void): { current: NodeJS.Timeout | undefined } {
  const handle: { current: NodeJS.Timeout | undefined } = { current: undefined };
  const check = () => {
    const left = deadline - Date.now();
    if (left > 0) handle.current = setTimeout(check, left);
    else then();
  };
  handle.current = setTimeout(check, Math.max(0, deadline - Date.now()));
  return handle;
}
