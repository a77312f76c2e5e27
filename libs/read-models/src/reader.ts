// The query side's access to read models: the active generation's collection (from the registry,
// cached for a second; a retired one stays readable for longer than that), documents without
// their bookkeeping, and read-your-writes: given a command's consistency token, a read waits,
// bounded, until the document has seen the token's stream at the token's version, and otherwise
// fails with NotYetConsistentError (409), never with stale data.
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
  resolve(doc: StoredDocument): void;
  reject(seen: number, waitedMs: number): void;
}

export class ReadModels {
  private readonly active = new Map<string, { collection: string; until: number }>();
  private readonly waiters = new Map<
    string,
    { collection: Collection<StoredDocument>; waiting: Set<Waiter> }
  >();
  private polling: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly options: { cacheMs?: number; defaultTimeoutMs?: number } = {},
  ) {}

  /** The document, once it reflects the token if one is given; undefined when there is none. */
  async get<Doc extends object>(
    projection: string,
    id: string,
    options: ReadOptions = {},
  ): Promise<Doc | undefined> {
    const stored = options.consistentWith
      ? await this.waitFor(projection, id, options.consistentWith, options.timeoutMs)
      : await (await this.collection(projection)).findOne({ _id: id });
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
      : await this.collection(projection);
    const cursor = collection.find({
      ...(list.filter as Filter<StoredDocument>),
      '_meta.deleted': { $ne: true },
    });
    if (list.sort) cursor.sort(list.sort);
    if (list.skip) cursor.skip(list.skip);
    const docs = await cursor.limit(list.limit).toArray();
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
    const collection = await within(this.collection(projection), started + timeoutMs);
    if (collection === TIMED_OUT)
      throw new NotYetConsistentError(projection, token, 0, Date.now() - started);
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
    // The first read is bounded too: a database that stops answering gets the same answer.
    const first = await within(collection.findOne({ _id: id }), deadline);
    if (first === TIMED_OUT)
      throw new NotYetConsistentError(projection, token, 0, Date.now() - started);
    if (versionOf(first?._meta, stream) >= token.version) return first;
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        id,
        stream,
        token,
        started,
        deadline,
        seen: versionOf(first?._meta, stream),
        resolve,
        reject: (seen, waited) => {
          reject(new NotYetConsistentError(projection, token, seen, waited));
        },
      };
      const key = collection.collectionName;
      const group = this.waiters.get(key) ?? { collection, waiting: new Set<Waiter>() };
      group.waiting.add(waiter);
      this.waiters.set(key, group);
      this.pollSoon();
    });
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
        const docs = await group.collection.find({ _id: { $in: ids } }).toArray();
        found = new Map(docs.map((d) => [d._id, d]));
      } catch {
        found = new Map(); // the database is away: the waits run on to their deadline
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
      .findOne({ _id: projection }, { projection: { active: 1 } });
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
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<typeof TIMED_OUT>((resolve) => {
        timer = setTimeout(
          () => {
            resolve(TIMED_OUT);
          },
          Math.max(0, deadline - Date.now()),
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
