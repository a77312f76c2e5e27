// Which collection each projection's readers use, in the `projections` collection of the
// read-model database. A projection has generations: a collection and the consumer group that
// fills it. Readers read the active one; a rebuild fills the next one from the beginning of the
// topics beside it, and the switch is one conditional update of this document, taken only once
// the new generation has caught up. The old generation is dropped a grace period later, once no
// reader can still hold its name.
import type { Collection, Db } from 'mongodb';
import { isDuplicateKey } from './mongo-writer';

export interface Generation {
  readonly generation: number;
  readonly collection: string;
  readonly groupId: string;
  readonly startedAt: string;
}

export interface RetiredGeneration extends Generation {
  readonly retiredAt: string;
}

/**
 * A topic that lost its first events, read by a rebuild from a republish's copies on: in each
 * partition, the copies lie between `from` and `to` (its marker, @es/messaging).
 */
export interface RepublishedTopic {
  readonly topic: string;
  readonly republishId: string;
  readonly partitions: readonly {
    readonly partition: number;
    readonly from: string;
    readonly to: string;
  }[];
}

/**
 * Before a rebuild from republished topics reads like any other: `starting` while its consumer
 * groups' first offsets are set (no runner yet), `prelude` while the republished copies alone
 * are folded (host.ts).
 */
export type RebuildPhase = 'starting' | 'prelude';

export interface Rebuilding extends Generation {
  /** Why it may not take over although it caught up (its topics lost events). */
  readonly held?: string;
  readonly phase?: RebuildPhase;
  readonly republished?: readonly RepublishedTopic[];
}

export interface RegistryEntry {
  readonly _id: string;
  readonly active: Generation & { readonly activatedAt: string };
  readonly rebuilding?: Rebuilding;
  readonly retired?: readonly RetiredGeneration[];
  /** The highest generation number ever handed out, so none is reused. */
  readonly lastGeneration: number;
}

export const REGISTRY_COLLECTION = 'projections';

/**
 * A generation's collection and consumer group. The group is named after the read-model
 * database too, so two deployments (or test runs) on different databases never share a group.
 */
export function generationOf(
  database: string,
  name: string,
  generation: number,
  at: Date,
): Generation {
  return {
    generation,
    collection: `${name.replaceAll('-', '_')}_g${generation}`,
    groupId: `projection.${database}.${name}.g${generation}`,
    startedAt: at.toISOString(),
  };
}

export class RebuildInProgressError extends Error {
  override name = 'RebuildInProgressError';
  constructor(
    readonly projection: string,
    readonly generation: number,
  ) {
    super(`projection ${projection} is already rebuilding (generation ${generation})`);
  }
}

export class ProjectionRegistry {
  readonly entries: Collection<RegistryEntry>;
  private readonly database: string;

  constructor(db: Db) {
    this.entries = db.collection<RegistryEntry>(REGISTRY_COLLECTION);
    this.database = db.databaseName;
  }

  /** The entry, created at generation 1 the first time any instance asks. */
  async ensure(name: string, now = new Date()): Promise<RegistryEntry> {
    const existing = await this.entries.findOne({ _id: name });
    if (existing) return existing;
    const first = generationOf(this.database, name, 1, now);
    try {
      await this.entries.insertOne({
        _id: name,
        active: { ...first, activatedAt: now.toISOString() },
        lastGeneration: 1,
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error; // another instance created it first
    }
    const entry = await this.entries.findOne({ _id: name });
    if (!entry) throw new Error(`projection registry entry ${name} vanished`);
    return entry;
  }

  async get(name: string): Promise<RegistryEntry | null> {
    return this.entries.findOne({ _id: name });
  }

  async all(): Promise<RegistryEntry[]> {
    return this.entries.find({}).toArray();
  }

  /**
   * Starts the next generation; fails if one is already being built. With republished topics,
   * it begins `starting` (host.ts sets its groups' offsets before any runner reads).
   */
  async startRebuild(
    name: string,
    now = new Date(),
    republished: readonly RepublishedTopic[] = [],
  ): Promise<Rebuilding> {
    const entry = await this.ensure(name, now);
    if (entry.rebuilding) throw new RebuildInProgressError(name, entry.rebuilding.generation);
    const next: Rebuilding = {
      ...generationOf(this.database, name, entry.lastGeneration + 1, now),
      ...(republished.length > 0 ? { phase: 'starting' as const, republished } : {}),
    };
    const updated = await this.entries.updateOne(
      { _id: name, lastGeneration: entry.lastGeneration, rebuilding: { $exists: false } },
      { $set: { rebuilding: next, lastGeneration: next.generation } },
    );
    if (updated.modifiedCount !== 1) {
      const now2 = await this.get(name);
      throw new RebuildInProgressError(name, now2?.rebuilding?.generation ?? next.generation);
    }
    return next;
  }

  /** Makes the rebuilt generation the active one, if it still is the one being rebuilt. */
  async switchTo(name: string, rebuilt: Generation, now = new Date()): Promise<boolean> {
    const entry = await this.get(name);
    if (entry?.rebuilding?.generation !== rebuilt.generation) return false;
    const retired: RetiredGeneration = { ...entry.active, retiredAt: now.toISOString() };
    const updated = await this.entries.updateOne(
      {
        _id: name,
        'rebuilding.generation': rebuilt.generation,
        'active.generation': entry.active.generation,
      },
      {
        $set: { active: { ...generationFields(rebuilt), activatedAt: now.toISOString() } },
        $push: { retired },
        $unset: { rebuilding: '' },
      },
    );
    return updated.modifiedCount === 1;
  }

  /** Moves a rebuild on from `from` to the next phase (none: it reads like any other). */
  async advance(
    name: string,
    rebuilding: Generation,
    from: RebuildPhase,
    to: RebuildPhase | undefined,
  ): Promise<boolean> {
    const updated = await this.entries.updateOne(
      { _id: name, 'rebuilding.generation': rebuilding.generation, 'rebuilding.phase': from },
      to ? { $set: { 'rebuilding.phase': to } } : { $unset: { 'rebuilding.phase': '' } },
    );
    return updated.modifiedCount === 1;
  }

  /** Records why the generation being rebuilt may not take over; false when it is not any more. */
  async hold(name: string, rebuilding: Generation, reason: string): Promise<boolean> {
    const updated = await this.entries.updateOne(
      { _id: name, 'rebuilding.generation': rebuilding.generation },
      { $set: { 'rebuilding.held': reason } },
    );
    return updated.matchedCount === 1;
  }

  /** Gives up the generation being rebuilt: retired, so its collection and group are dropped. */
  async abandon(name: string, rebuilding: Generation, now = new Date()): Promise<boolean> {
    const retired: RetiredGeneration = {
      ...generationFields(rebuilding),
      retiredAt: now.toISOString(),
    };
    const updated = await this.entries.updateOne(
      { _id: name, 'rebuilding.generation': rebuilding.generation },
      { $unset: { rebuilding: '' }, $push: { retired } },
    );
    return updated.modifiedCount === 1;
  }

  /** Forgets a retired generation once its collection and group are gone. */
  async forget(name: string, retired: RetiredGeneration): Promise<void> {
    // The whole element: FerretDB 1.24's $pull removes equal values only (a condition such as
    // {generation: 2} matches nothing there; docs/engines.md).
    await this.entries.updateOne({ _id: name }, { $pull: { retired } });
  }
}

/** A generation's own fields, without what an entry records beside them. */
export function generationFields(g: Generation): Generation {
  return {
    generation: g.generation,
    collection: g.collection,
    groupId: g.groupId,
    startedAt: g.startedAt,
  };
}
