// The query side's access to read models: the active generation's collection (from the registry,
// cached for a second; a retired one stays readable for longer than that), documents without
// their bookkeeping, and read-your-writes: given a command's consistency token, a read waits,
// bounded, until the document has seen the token's stream at the token's version, and otherwise
// fails with NotYetConsistentError (409), never with stale data.
import { setTimeout as sleep } from 'node:timers/promises';
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

export class ReadModels {
  private readonly active = new Map<string, { collection: string; until: number }>();

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
   * token's write changed (`tokenDocument`, by default the token's stream id) reflects it.
   */
  async list<Doc extends object>(
    projection: string,
    list: ListOptions<Doc>,
    options: ReadOptions & { readonly tokenDocument?: string } = {},
  ): Promise<Doc[]> {
    if (options.consistentWith)
      await this.waitFor(
        projection,
        options.tokenDocument ?? options.consistentWith.stream.id,
        options.consistentWith,
        options.timeoutMs,
      );
    const collection = await this.collection(projection);
    const cursor = collection.find({
      ...(list.filter as Filter<StoredDocument>),
      '_meta.deleted': { $ne: true },
    });
    if (list.sort) cursor.sort(list.sort);
    if (list.skip) cursor.skip(list.skip);
    const docs = await cursor.limit(list.limit).toArray();
    return docs.flatMap((d) => (documentFields(d) as Doc | null) ?? []);
  }

  /** Polls the document until it has seen the token's stream at the token's version. */
  async waitFor(
    projection: string,
    id: string,
    token: ConsistencyToken,
    timeoutMs = this.options.defaultTimeoutMs ?? 2_000,
  ): Promise<StoredDocument | null> {
    const stream = `${token.stream.type}/${token.stream.id}`;
    const started = Date.now();
    for (let pause = 5; ; pause = Math.min(pause * 2, 100)) {
      const stored = await (await this.collection(projection)).findOne({ _id: id });
      const seen = versionOf(stored?._meta, stream);
      if (seen >= token.version) return stored;
      const waited = Date.now() - started;
      if (waited >= timeoutMs) throw new NotYetConsistentError(projection, token, seen, waited);
      await sleep(Math.min(pause, timeoutMs - waited));
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
