// The one Kafka consumer core: every consumer of the system (the inbox consumer of commands,
// replies and events, the projection runner) is a policy over it, and what they share is
// written here once:
// - the group session: a member that died (SIGKILL) holds its partitions until its session
//   times out, 10 s rather than kafkajs' 30 s, so a restarted instance resumes the work sooner;
// - offsets committed by the core on an interval and at stop, never by kafkajs: a message's
//   offset is committed only once the policy said it was handled (its effect durable), over
//   the handled prefix of its batch; what a crash leaves uncommitted is redelivered, and the
//   policy's deduplication (inbox, version guards) answers it. kafkajs' auto-commit committed
//   after every fetched batch, an awaited round trip in front of the partition's next batch
//   (50-65 commits/s per service in the saga bench, docs/event-store.md);
// - rebalances: before partitions are taken away, what was handled on them is committed; after,
//   what was handled on partitions now someone else's is not (it could move their committed
//   offset back): they redeliver;
// - a batch left part-way (stopping, a rebalance, a failure) is fetched again from its first
//   message not handled (eachBatchAutoResolve off);
// - stop: fetching pauses, the batches in hand finish (bounded), what was handled is committed,
//   and the member leaves the group.
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';

export interface ConsumerCoreOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Read from the first offset when the group has none (default true). */
  readonly fromBeginning?: boolean;
  /** Partitions handled at once, each still in order; 1 by default. */
  readonly partitionsConsumedConcurrently?: number;
  /** How long a fetch waits for messages (250 ms by default). */
  readonly maxWaitTimeInMs?: number;
  /** How often handled offsets are committed (500 ms by default), and at stop. */
  readonly commitIntervalMs?: number;
  /** A commit of handled offsets failed (it is retried at the next interval). */
  readonly onCommitError?: (error: unknown) => void;
  /** The partitions this member holds after joining the group, by topic. */
  readonly onAssignment?: (assignment: Readonly<Record<string, readonly number[]>>) => void;
}

/** One partition's fetched messages, as the core hands them to a policy. */
export interface FetchedBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: readonly KafkaMessage[];
  readonly highWatermark: string;
  /** The first offset fetched (or the high watermark of an empty batch). */
  readonly firstOffset: string;
  /** The message at this offset was handled, its effect durable: it may be committed. */
  handled(offset: string): void;
  /** False once stopping, rebalanced away or sought elsewhere: start nothing new. */
  active(): boolean;
  /** Keeps the member in its group during a long batch; a rebalance answers with an error. */
  heartbeat(): Promise<void>;
}

/** Handles one batch; a rejection makes kafkajs fetch the partition again after what was handled. */
export type BatchPolicy = (batch: FetchedBatch) => Promise<void>;

type Offset = { topic: string; partition: number; offset: string };

export class ConsumerCore {
  private readonly consumer: Consumer;
  /** Per partition, the offset after its last handled message, not yet committed. */
  private readonly handledUpTo = new Map<string, Offset>();
  private commitTimer: NodeJS.Timeout | undefined;
  /** Batches being handled: stop() waits for them to finish. */
  private batches = 0;
  private readonly stopping = new AbortController();
  /** The commit in flight: a tick while one runs is skipped, so commits never queue up. */
  private committing: Promise<void> | undefined;
  /** When the last commit started (0: never): a batch that ends after the interval commits. */
  private lastCommitAt = 0;

  constructor(
    kafka: Kafka,
    private readonly options: ConsumerCoreOptions,
    private readonly policy: BatchPolicy,
  ) {
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: options.maxWaitTimeInMs ?? 250,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 1_000,
      allowAutoTopicCreation: false,
    });
  }

  /** Aborted when stop() begins: a policy's waits (back-off) end with it. */
  get signal(): AbortSignal {
    return this.stopping.signal;
  }

  async start(): Promise<void> {
    this.consumer.on(this.consumer.events.REBALANCING, () => {
      void this.commitHandled();
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      const held = payload.memberAssignment;
      for (const [key, o] of this.handledUpTo)
        if (!held[o.topic]?.includes(o.partition)) this.handledUpTo.delete(key);
      this.options.onAssignment?.(held);
    });
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [...this.options.topics],
      fromBeginning: this.options.fromBeginning ?? true,
    });
    this.commitTimer = setInterval(() => {
      void this.commitHandled();
    }, this.options.commitIntervalMs ?? 500);
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { topic, partition, messages, highWatermark } = payload.batch;
    const done = new Set<string>();
    // Offsets advance message by message over what was handled without a gap, so the commit
    // interval and stop() see the progress of a long batch, not only its end.
    let prefix = 0;
    const batch: FetchedBatch = {
      topic,
      partition,
      messages,
      highWatermark,
      firstOffset: payload.batch.firstOffset() ?? highWatermark,
      handled: (offset) => {
        done.add(offset);
        const from = prefix;
        while (prefix < messages.length && done.has(messages[prefix]?.offset ?? '')) prefix++;
        const last = messages[prefix - 1];
        if (prefix === from || !last) return;
        payload.resolveOffset(last.offset);
        this.handledUpTo.set(`${topic}/${partition}`, {
          topic,
          partition,
          offset: (BigInt(last.offset) + 1n).toString(),
        });
      },
      active: () => !this.stopping.signal.aborted && payload.isRunning() && !payload.isStale(),
      heartbeat: () => payload.heartbeat(),
    };
    this.batches++;
    try {
      await this.policy(batch);
    } finally {
      this.batches--;
      // As kafkajs' "commit if necessary": a batch that ends an interval after the last commit
      // commits now, without waiting for it (the first batch at once), so the committed offsets
      // a rebuild is compared with are never an interval staler than they need to be.
      if (Date.now() - this.lastCommitAt >= (this.options.commitIntervalMs ?? 500))
        void this.commitHandled();
    }
  }

  /**
   * Stops fetching, lets the batches in hand finish (at most `graceMs`), commits what was
   * handled, then leaves the group. (kafkajs drops commits once its consumer is stopped.)
   */
  async stop(graceMs = 10_000): Promise<void> {
    clearInterval(this.commitTimer);
    this.stopping.abort();
    const deadline = Date.now() + graceMs;
    const bounded = (work: Promise<void>) =>
      Promise.race([
        work,
        new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()))),
      ]);
    try {
      this.consumer.pause(this.options.topics.map((topic) => ({ topic })));
      while (this.batches > 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      // The commit in flight, then one more for what was handled since; both within the grace.
      await bounded(this.committing ?? Promise.resolve());
      await bounded(this.commitHandled());
    } catch {
      // Never started (or already gone): nothing handled to commit.
    }
    await this.consumer.disconnect();
  }

  /** Commits the handled offsets, unless a commit is in flight (the next tick takes them). */
  private commitHandled(): Promise<void> {
    if (this.committing) return this.committing;
    if (this.handledUpTo.size === 0) return Promise.resolve();
    const offsets = [...this.handledUpTo.values()];
    this.handledUpTo.clear();
    this.lastCommitAt = Date.now();
    this.committing = this.consumer
      .commitOffsets(offsets)
      .catch((error: unknown) => {
        // A rebalance took the partitions, or the broker is away: whoever consumes them next
        // starts from the last commit, and the policy's deduplication answers what it sees
        // again. Kept to retry unless a later offset was handled meanwhile.
        for (const o of offsets) {
          const key = `${o.topic}/${o.partition}`;
          if (!this.handledUpTo.has(key)) this.handledUpTo.set(key, o);
        }
        this.options.onCommitError?.(error);
      })
      .finally(() => {
        this.committing = undefined;
      });
    return this.committing;
  }
}
