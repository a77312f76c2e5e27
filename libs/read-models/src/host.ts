// Hosts a set of projections in one process: for each, a runner for its active generation and,
// during a rebuild, one for the generation being built. Every instance reconciles its runners
// with the registry once a second, so a rebuild asked of one instance starts on all of them, and
// Kafka's partition assignment splits each generation's work across the instances.
//
// A rebuild becomes active when, in every partition, its consumer group has committed progress
// (unless the partition is empty) and is no further behind the end than the active one: readers
// then switch to a collection at least as fresh as the one they leave. (With lag alone and a
// margin of 20 events, a partition of fewer events than the margin counted as caught up before
// the rebuild had read any of it: under load, readers switched to a collection missing its
// documents, seen as "no document" in the rebuild int test.) The old generation's runners stop at once; its collection and
// consumer group are dropped `retireAfterMs` later, when no reader can still hold its name.
//
// A rebuild reads its topics from their first offset. A partition whose first offset is past 0
// lost events (a deletion of records, a retention set by hand), and a read model rebuilt from it
// would miss them without an error: such a rebuild is refused (TopicTruncatedError, 409), unless
// a completed republish of the producing service's store put the topic back whole after the
// point it lost (its marker, @es/messaging republish-markers). Such a rebuild reads that topic
// from the marker's `from` offsets, in two passes, because the copies are not where the events
// were: an event committed while the republish ran was published at once, ahead of the copies
// of its stream's earlier events, and a version-guarded fold that took it first would pass the
// earlier ones over as duplicates. So a first pass (`prelude`, a consumer group of its own)
// folds the copies alone, up to the marker's `to` offsets: every stream the store held, whole
// and in order. The generation's own group then reads from `from` like any rebuild: the copies
// and the events they cover are duplicates by then, and an event committed after the republish
// read its stream comes after its copies. One whose topic is truncated while it runs (past
// where it began reading) is held at the switch, its reason in its status, readers staying on
// the live generation (docs/decisions.md, Rebuild).
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { Db } from 'mongodb';
import { ROOT_CONTEXT, context, type Meter } from '@opentelemetry/api';
import { logContext } from '@es/observability';
import {
  consumerLag,
  ensureTopics,
  latestRepublishMarkers,
  REPUBLISH_ID_HEADER,
  type PartitionLag,
  type RepublishMarker,
} from '@es/messaging';
import type { StoredDocument } from './apply';
import type { Projection } from './projection';
import {
  generationFields,
  ProjectionRegistry,
  type Generation,
  type RebuildPhase,
  type Rebuilding,
  type RegistryEntry,
  type RepublishedTopic,
} from './registry';
import { ProjectionRunner, type PartitionProgress } from './runner';

export interface ProjectionHostOptions {
  readonly kafka: Kafka;
  readonly db: Db;
  readonly projections: readonly Projection[];
  readonly meter?: Meter;
  readonly log?: (level: 'info' | 'warn' | 'error', message: string, fields?: object) => void;
  readonly reconcileIntervalMs?: number;
  /** A rebuild may be this many events further behind than the active generation and switch (0). */
  readonly switchMarginEvents?: number;
  readonly retireAfterMs?: number;
  readonly chunkSize?: number;
  readonly partitionsConsumedConcurrently?: number;
}

export interface GroupLag {
  readonly events: number;
  /** Committed offsets over the topics' end offsets, 0 to 1 (1 when the topics are empty). */
  readonly progress: number;
  readonly partitions: readonly PartitionLag[];
}

export interface GenerationStatus extends Generation {
  readonly documents: number;
  readonly lagEvents: number;
  /** Age of the oldest event this instance fetched and has not written yet. */
  readonly lagSeconds: number;
  readonly progress: number;
  readonly runningHere: boolean;
}

export interface ProjectionStatus {
  readonly name: string;
  readonly description: string;
  readonly status: 'live' | 'rebuilding';
  readonly active: GenerationStatus & { readonly activatedAt: string };
  /** `held`: why it may not take over although it caught up (its topics lost events). */
  readonly rebuilding?: GenerationStatus & {
    readonly held?: string;
    readonly phase?: RebuildPhase;
    /** The topics it reads from a republish's copies on, and which republish. */
    readonly republished?: readonly { readonly topic: string; readonly republishId: string }[];
  };
}

export class ProjectionHost {
  readonly registry: ProjectionRegistry;
  private readonly runners = new Map<string, ProjectionRunner>();
  private readonly byName: ReadonlyMap<string, Projection>;
  private admin: Admin | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reconciling: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: ProjectionHostOptions) {
    this.registry = new ProjectionRegistry(options.db);
    this.byName = new Map(options.projections.map((p) => [p.name, p]));
    if (this.byName.size !== options.projections.length)
      throw new Error('two projections have the same name');
    options.meter
      ?.createObservableGauge('projection_lag_events', {
        description: 'Events fetched or fetchable and not yet written, per partition held here',
      })
      .addCallback((result) => {
        for (const { runner, progress } of this.progressOfRunners())
          result.observe(progress.lagEvents, this.labels(runner, progress));
      });
    options.meter
      ?.createObservableGauge('projection_lag_seconds', {
        description: 'Age of the oldest event fetched and not yet written, per partition held here',
        unit: 's',
      })
      .addCallback((result) => {
        for (const { runner, progress } of this.progressOfRunners())
          result.observe(progress.lagSeconds, this.labels(runner, progress));
      });
  }

  /** The consumer groups running here (each generation's), with their topics. */
  groups(): { groupId: string; topics: readonly string[] }[] {
    return [...this.runners.values()].map((r) => ({
      groupId: r.groupId,
      topics: this.byName.get(r.projectionName)?.topics ?? [],
    }));
  }

  projection(name: string): Projection | undefined {
    return this.byName.get(name);
  }

  async start(): Promise<void> {
    this.stopped = false; // a start after a failed one (Kafka away at boot) runs again
    this.admin = this.options.kafka.admin();
    await this.admin.connect();
    // The topics are the producers': their partition counts are theirs to state, not ours.
    await ensureTopics(
      this.admin,
      [...new Set(this.options.projections.flatMap((p) => p.topics))],
      { checkPartitions: false },
    );
    await this.reconcile();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.reconciling;
    await Promise.all([...this.runners.values()].map((r) => r.stop()));
    this.runners.clear();
    await this.admin?.disconnect();
  }

  /**
   * Starts a rebuild of the projection on every instance (each reconciles within a second).
   * Refused when a partition of its topics lost its first events and no completed republish
   * put them back; a rebuild held for that reason is replaced.
   */
  async rebuild(name: string): Promise<Generation> {
    const projection = this.byName.get(name);
    let republished: readonly RepublishedTopic[] = [];
    if (projection) {
      const entry = await this.registry.ensure(name);
      const live = await this.groupLag(projection, entry.active.groupId);
      const truncated = truncatedPartitions(live.partitions);
      if (truncated.length > 0) {
        const plan = republishPlan(
          truncated,
          live.partitions,
          await latestRepublishMarkers(this.options.kafka),
        );
        if (plan.uncovered.length > 0)
          throw new TopicTruncatedError(name, truncated, plan.uncovered);
        republished = plan.topics;
      }
      if (entry.rebuilding?.held) await this.registry.abandon(name, entry.rebuilding);
    }
    const generation = await this.registry.startRebuild(name, new Date(), republished);
    this.options.log?.('info', 'projection rebuild started', {
      projection: name,
      ...generation,
    });
    await this.reconcileNow();
    return generationFields(generation);
  }

  /** Runs a reconciliation now (after any in progress). */
  reconcileNow(): Promise<void> {
    // Runners started here live on: they must not inherit the trace and log ids of the request
    // that asked for a rebuild.
    this.reconciling = logContext.exit(() =>
      context.with(ROOT_CONTEXT, () => this.reconciling.then(() => this.reconcile())),
    );
    return this.reconciling;
  }

  async status(): Promise<ProjectionStatus[]> {
    const statuses: ProjectionStatus[] = [];
    for (const projection of this.options.projections) {
      const entry = await this.registry.ensure(projection.name);
      const active = {
        ...(await this.generationStatus(projection, entry.active)),
        activatedAt: entry.active.activatedAt,
      };
      statuses.push({
        name: projection.name,
        description: projection.description,
        status: entry.rebuilding ? 'rebuilding' : 'live',
        active,
        ...(entry.rebuilding
          ? { rebuilding: await this.rebuildingStatus(projection, entry.rebuilding) }
          : {}),
      });
    }
    return statuses;
  }

  /** Lag of a consumer group over the projection's topics, from the broker's committed offsets. */
  async groupLag(projection: Projection, groupId: string): Promise<GroupLag> {
    const partitions = await consumerLag(this.requireAdmin(), {
      groupId,
      topics: projection.topics,
    });
    let done = 0n;
    let total = 0n;
    for (const p of partitions) {
      const low = BigInt(p.low);
      done += BigInt(p.committed ?? p.low) - low;
      total += BigInt(p.end) - low;
    }
    return {
      events: partitions.reduce((sum, p) => sum + p.lag, 0),
      progress: total === 0n ? 1 : Number((done * 10_000n) / total) / 10_000,
      partitions,
    };
  }

  private async rebuildingStatus(
    projection: Projection,
    rebuilding: Rebuilding,
  ): Promise<NonNullable<ProjectionStatus['rebuilding']>> {
    return {
      ...(await this.generationStatus(projection, rebuilding)),
      ...(rebuilding.held ? { held: rebuilding.held } : {}),
      ...(rebuilding.phase ? { phase: rebuilding.phase } : {}),
      ...(rebuilding.republished
        ? {
            republished: rebuilding.republished.map(({ topic, republishId }) => ({
              topic,
              republishId,
            })),
          }
        : {}),
    };
  }

  private async generationStatus(
    projection: Projection,
    generation: Generation,
  ): Promise<GenerationStatus> {
    const lag = await this.groupLag(projection, generation.groupId);
    const runner = this.runners.get(generation.groupId);
    const seconds = runner ? Math.max(0, ...runner.partitions().map((p) => p.lagSeconds)) : 0;
    return {
      ...generation,
      documents: await this.options.db.collection(generation.collection).estimatedDocumentCount(),
      lagEvents: lag.events,
      lagSeconds: seconds,
      progress: lag.progress,
      runningHere: runner?.isRunning() ?? false,
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.reconcileNow().finally(() => {
        this.schedule();
      });
    }, this.options.reconcileIntervalMs ?? 1_000);
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    try {
      const wanted = new Map<string, Wanted>();
      for (const projection of this.options.projections) {
        let entry = await this.registry.ensure(projection.name);
        if (entry.rebuilding) entry = await this.advanceRebuild(projection, entry);
        wanted.set(entry.active.groupId, { projection, generation: entry.active });
        const rebuilding = entry.rebuilding;
        if (rebuilding?.phase === 'prelude')
          wanted.set(preludeGroupOf(rebuilding), {
            projection,
            generation: rebuilding,
            prelude: rebuilding.republished ?? [],
          });
        else if (rebuilding && !rebuilding.phase)
          wanted.set(rebuilding.groupId, { projection, generation: rebuilding });
        await this.retire(projection, entry);
      }
      for (const [groupId, runner] of this.runners)
        if (!wanted.has(groupId)) {
          this.runners.delete(groupId);
          await runner.stop();
          if (groupId.endsWith(PRELUDE_SUFFIX)) await this.deletePrelude(groupId);
        }
      for (const [groupId, want] of wanted)
        if (!this.runners.has(groupId)) await this.startRunner(groupId, want);
    } catch (error) {
      this.options.log?.('warn', 'projection reconcile failed; trying again', {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private async startRunner(
    groupId: string,
    { projection, generation, prelude }: Wanted,
  ): Promise<void> {
    const collection = this.options.db.collection<StoredDocument>(generation.collection);
    for (const index of projection.indexes)
      await collection.createIndex({ ...index.keys }, { name: index.name });
    const runner = new ProjectionRunner({
      kafka: this.options.kafka,
      projection,
      collection,
      groupId,
      generation: generation.generation,
      ...(prelude ? { topics: prelude.map((t) => t.topic), accept: copiesOf(prelude) } : {}),
      ...(this.options.meter ? { meter: this.options.meter } : {}),
      ...(this.options.log ? { log: this.options.log } : {}),
      ...(this.options.chunkSize ? { chunkSize: this.options.chunkSize } : {}),
      ...(this.options.partitionsConsumedConcurrently
        ? { partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently }
        : {}),
    });
    this.runners.set(groupId, runner);
    try {
      await runner.start();
    } catch (error) {
      this.runners.delete(groupId);
      await runner.stop().catch(() => undefined);
      throw error;
    }
    this.options.log?.('info', 'projection runner started', {
      projection: projection.name,
      ...generationFields(generation),
      ...(prelude ? { groupId, prelude: 'the republished copies alone' } : {}),
    });
  }

  /**
   * A rebuild from republished topics, moved on when it can: `starting` sets both its groups'
   * first offsets on those topics to the markers' `from` (no runner of either is up, so the
   * groups are empty; done again by another instance, the same offsets), then `prelude` ends
   * when its group has read every partition up to the marker's `to`. Then, as any rebuild, it
   * switches once caught up.
   */
  private async advanceRebuild(
    projection: Projection,
    entry: RegistryEntry,
  ): Promise<RegistryEntry> {
    const rebuilding = entry.rebuilding;
    if (!rebuilding) return entry;
    const name = projection.name;
    if (rebuilding.phase === 'starting') {
      const admin = this.requireAdmin();
      for (const { topic, partitions } of rebuilding.republished ?? []) {
        const offsets = partitions.map(({ partition, from }) => ({ partition, offset: from }));
        for (const groupId of [preludeGroupOf(rebuilding), rebuilding.groupId])
          await admin.setOffsets({ groupId, topic, partitions: offsets });
      }
      if (await this.registry.advance(name, rebuilding, 'starting', 'prelude'))
        this.options.log?.('info', 'projection rebuild folds the republished copies first', {
          projection: name,
          generation: rebuilding.generation,
          republished: rebuilding.republished,
        });
      return (await this.registry.get(name)) ?? entry;
    }
    if (rebuilding.phase === 'prelude') {
      if (!(await this.preludeDone(rebuilding))) return entry;
      if (await this.registry.advance(name, rebuilding, 'prelude', undefined))
        this.options.log?.('info', 'projection rebuild folded the republished copies', {
          projection: name,
          generation: rebuilding.generation,
        });
      return (await this.registry.get(name)) ?? entry;
    }
    return this.maybeSwitch(projection, entry);
  }

  /** Whether the prelude's group has read, in every partition, up to its marker's `to`. */
  private async preludeDone(rebuilding: Rebuilding): Promise<boolean> {
    const republished = rebuilding.republished ?? [];
    const lags = await consumerLag(this.requireAdmin(), {
      groupId: preludeGroupOf(rebuilding),
      topics: republished.map((t) => t.topic),
    });
    const committed = new Map(lags.map((p) => [`${p.topic}/${p.partition}`, p.committed]));
    return republished.every(({ topic, partitions }) =>
      partitions.every(({ partition, from, to }) => {
        const at = committed.get(`${topic}/${partition}`);
        return BigInt(to) <= BigInt(from) || (at != null && BigInt(at) >= BigInt(to));
      }),
    );
  }

  /**
   * The prelude's group, once its runner stopped here: deleted by the last instance to leave it
   * (while others are still members the broker refuses, and they try in turn). One left behind
   * holds nothing and expires with Kafka's offsets retention.
   */
  private async deletePrelude(groupId: string): Promise<void> {
    await this.requireAdmin()
      .deleteGroups([groupId])
      .catch(() => undefined);
  }

  private async maybeSwitch(projection: Projection, entry: RegistryEntry): Promise<RegistryEntry> {
    const rebuilding = entry.rebuilding;
    if (!rebuilding || rebuilding.phase) return entry;
    const [fresh, current] = await Promise.all([
      this.groupLag(projection, rebuilding.groupId),
      this.groupLag(projection, entry.active.groupId),
    ]);
    // Partition by partition: a document lives in one, so the new generation must be as fresh
    // as the live one in each of them, not only in total.
    if (!rebuildCaughtUp(fresh.partitions, current.partitions, this.options.switchMarginEvents))
      return entry;
    const truncated = truncatedPartitions(fresh.partitions, startsOf(rebuilding));
    if (truncated.length > 0) {
      if (!rebuilding.held) {
        const held = `${describeTruncation(truncated)}: this generation would miss them, so readers stay on generation ${entry.active.generation}`;
        await this.registry.hold(projection.name, rebuilding, held);
        this.options.log?.('error', 'projection rebuild held: its topics lost events', {
          projection: projection.name,
          generation: rebuilding.generation,
          reason: held,
        });
      }
      return (await this.registry.get(projection.name)) ?? entry;
    }
    if (await this.registry.switchTo(projection.name, rebuilding)) {
      this.options.log?.('info', 'projection switched to its rebuilt generation', {
        projection: projection.name,
        from: entry.active.generation,
        to: rebuilding.generation,
        lagEvents: fresh.events,
      });
    }
    return (await this.registry.get(projection.name)) ?? entry;
  }

  private async retire(projection: Projection, entry: RegistryEntry): Promise<void> {
    const retireAfter = this.options.retireAfterMs ?? 10_000;
    for (const old of entry.retired ?? []) {
      if (Date.now() - Date.parse(old.retiredAt) < retireAfter) continue;
      const runner = this.runners.get(old.groupId);
      if (runner) {
        this.runners.delete(old.groupId);
        await runner.stop();
      }
      try {
        await this.requireAdmin().deleteGroups([old.groupId]);
      } catch (error) {
        // Still has members on an instance that has not reconciled yet, or already deleted.
        const text = error instanceof Error ? error.message : String(error);
        if (!/does not exist|not found|GROUP_ID_NOT_FOUND/i.test(text)) {
          this.options.log?.('info', 'retired consumer group not deleted yet', {
            groupId: old.groupId,
            error: text,
          });
          continue;
        }
      }
      await this.options.db
        .collection(old.collection)
        .drop()
        .catch(() => false);
      await this.registry.forget(projection.name, old);
      this.options.log?.('info', 'retired projection generation dropped', {
        projection: projection.name,
        ...old,
      });
    }
  }

  private requireAdmin(): Admin {
    if (!this.admin) throw new Error('the projection host is not started');
    return this.admin;
  }

  private *progressOfRunners(): Generator<{
    runner: ProjectionRunner;
    progress: PartitionProgress;
  }> {
    for (const runner of this.runners.values())
      for (const progress of runner.partitions()) yield { runner, progress };
  }

  private labels(runner: ProjectionRunner, progress: PartitionProgress) {
    return {
      projection: runner.projectionName,
      generation: runner.generation,
      topic: progress.topic,
      partition: progress.partition,
    };
  }
}

/**
 * Whether a rebuilt generation may take over: in every partition it has committed progress
 * (unless the partition holds nothing) and is no further behind the end than the live one,
 * plus `margin` events. A partition it has not read yet is behind, however few events it holds.
 */
export function rebuildCaughtUp(
  rebuilt: readonly PartitionLag[],
  live: readonly PartitionLag[],
  margin = 0,
): boolean {
  const liveLag = new Map(live.map((p) => [`${p.topic}/${p.partition}`, p.lag]));
  return rebuilt.every(
    (p) =>
      (p.committed !== null || p.end === p.low) &&
      p.lag <= (liveLag.get(`${p.topic}/${p.partition}`) ?? 0) + margin,
  );
}

/** A partition that no longer holds its first events: its log start offset is past 0. */
export interface TruncatedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly low: string;
}

/**
 * The partitions whose first offset is past where a rebuild reads them from: `starts`, by
 * `<topic>/<partition>`, for those it reads from a republish on; 0 for the others.
 */
export function truncatedPartitions(
  partitions: readonly { topic: string; partition: number; low: string }[],
  starts: ReadonlyMap<string, string> = new Map(),
): TruncatedPartition[] {
  return partitions
    .filter((p) => BigInt(p.low) > BigInt(starts.get(`${p.topic}/${p.partition}`) ?? '0'))
    .map(({ topic, partition, low }) => ({ topic, partition, low }));
}

function startsOf(rebuilding: Rebuilding): Map<string, string> {
  return new Map(
    (rebuilding.republished ?? []).flatMap(({ topic, partitions }) =>
      partitions.map(({ partition, from }) => [`${topic}/${partition}`, from] as const),
    ),
  );
}

export interface RepublishPlan {
  /** The truncated topics, each read from its latest republish on. */
  readonly topics: readonly RepublishedTopic[];
  /** Why a truncated topic cannot be read so: no republish of it, or one truncated too. */
  readonly uncovered: readonly string[];
}

/**
 * How a rebuild can read topics that lost their first events: each from its latest completed
 * republish on, which covers it when the marker names every partition of the topic and none of
 * them lost anything from the marker's `from` on. `partitions` are all of the projection's.
 */
export function republishPlan(
  truncated: readonly TruncatedPartition[],
  partitions: readonly { topic: string; partition: number; low: string }[],
  markers: ReadonlyMap<string, RepublishMarker>,
): RepublishPlan {
  const topics: RepublishedTopic[] = [];
  const uncovered: string[] = [];
  for (const topic of new Set(truncated.map((t) => t.topic))) {
    const marker = markers.get(topic);
    if (!marker) {
      uncovered.push(
        `no completed republish of ${topic} puts them back (POST /republish of the store that publishes it, then ask again)`,
      );
      continue;
    }
    const problems: string[] = [];
    const covered: { partition: number; from: string; to: string }[] = [];
    const own = partitions
      .filter((q) => q.topic === topic)
      .sort((a, b) => a.partition - b.partition);
    for (const p of own) {
      const from = marker.from[String(p.partition)];
      const to = marker.to[String(p.partition)];
      if (from === undefined || to === undefined)
        problems.push(`partition ${p.partition} is not in it`);
      else if (BigInt(p.low) > BigInt(from))
        problems.push(`partition ${p.partition} lost its copies too (from offset ${from})`);
      else covered.push({ partition: p.partition, from, to });
    }
    if (problems.length > 0)
      uncovered.push(
        `the latest republish of ${topic} (${marker.republishId}) does not cover it: ${problems.join(', ')}`,
      );
    else topics.push({ topic, republishId: marker.republishId, partitions: covered });
  }
  return { topics, uncovered };
}

const PRELUDE_SUFFIX = '.prelude';

/** The consumer group of a rebuild's first pass over the republished copies. */
function preludeGroupOf(rebuilding: Generation): string {
  return `${rebuilding.groupId}${PRELUDE_SUFFIX}`;
}

/** The prelude's filter: a copy written by the topic's republish, before the marker's `to`. */
function copiesOf(
  republished: readonly RepublishedTopic[],
): (message: KafkaMessage, topic: string, partition: number) => boolean {
  const windows = new Map(
    republished.flatMap(({ topic, republishId, partitions }) =>
      partitions.map(
        ({ partition, to }) => [`${topic}/${partition}`, { republishId, to: BigInt(to) }] as const,
      ),
    ),
  );
  return (message, topic, partition) => {
    const window = windows.get(`${topic}/${partition}`);
    return (
      window !== undefined &&
      BigInt(message.offset) < window.to &&
      message.headers?.[REPUBLISH_ID_HEADER]?.toString() === window.republishId
    );
  };
}

interface Wanted {
  readonly projection: Projection;
  readonly generation: Generation;
  /** A prelude's runner: these topics' republished copies alone. */
  readonly prelude?: readonly RepublishedTopic[];
}

function describeTruncation(truncated: readonly TruncatedPartition[]): string {
  return `${truncated.map((p) => `${p.topic} partition ${p.partition} starts at offset ${p.low}`).join(', ')}: its first events are gone from the topic`;
}

/** A rebuild asked for while its topics lost their first events: it would build without them. */
export class TopicTruncatedError extends Error {
  override name = 'TopicTruncatedError';
  constructor(
    readonly projection: string,
    readonly partitions: readonly TruncatedPartition[],
    readonly uncovered: readonly string[] = [],
  ) {
    super(
      `projection ${projection} cannot be rebuilt: ${describeTruncation(partitions)}, and ${uncovered.length > 0 ? uncovered.join('; ') : 'a rebuild would build a read model without them'}; the live generation keeps them (docs/decisions.md, Rebuild: restoring a topic)`,
    );
  }
}
