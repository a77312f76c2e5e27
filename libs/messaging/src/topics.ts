import { ConfigResourceTypes, type Admin } from 'kafkajs';

export const DEFAULT_PARTITIONS = 6;

export const dlqTopic = (topic: string): string => `${topic}.dlq`;

/**
 * Event topics (`<context>.events`) keep every message: a projection rebuild replays them from
 * the beginning (docs/decisions.md, read models), so time-based deletion would make a rebuilt
 * read model silently miss its oldest events. Commands, replies and dead letters keep Kafka's
 * default retention.
 */
export const retainedForever = (topic: string): boolean => topic.endsWith('.events');

/** A topic that exists with settings under which it would lose messages: each setting named. */
export class TopicSettingsError extends Error {
  override name = 'TopicSettingsError';
  constructor(readonly problems: readonly string[]) {
    super(`topics that would lose messages: ${problems.join('; ')}`);
  }
}

/**
 * What an existing topic must have, else it is refused (never silently used): an event topic
 * keeps every message (retention.ms and retention.bytes -1, cleanup.policy delete: compaction
 * would drop all but each key's last event), every topic at least the replication asked for
 * (one copy on a cluster of three loses data with a broker), and a min.insync.replicas it can
 * meet, else every write fails. A partition count other than asked is refused too: keys would
 * map to other partitions than the messages before them, and per-aggregate order is lost; that
 * count is its producer's to state (`checkPartitions: false` for a consumer of someone else's).
 */
export async function verifyTopics(
  admin: Admin,
  topics: readonly string[],
  {
    partitions = DEFAULT_PARTITIONS,
    replicationFactor = 1,
    checkPartitions = true,
  }: { partitions?: number; replicationFactor?: number; checkPartitions?: boolean } = {},
): Promise<void> {
  if (topics.length === 0) return;
  const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: topics.map((name) => ({
      type: ConfigResourceTypes.TOPIC,
      name,
      configNames: ['retention.ms', 'retention.bytes', 'cleanup.policy', 'min.insync.replicas'],
    })),
  });
  const problems: string[] = [];
  for (const topic of topics) {
    const meta = metadata.find((m) => m.name === topic);
    const config = (name: string) =>
      resources
        .find((r) => r.resourceName === topic)
        ?.configEntries.find((e) => e.configName === name)?.configValue;
    const count = meta?.partitions.length ?? 0;
    if (checkPartitions && count !== partitions)
      problems.push(`${topic}: ${count} partitions, not ${partitions} (keys would move)`);
    const replicas = Math.min(...(meta?.partitions.map((p) => p.replicas.length) ?? [0]));
    if (replicas < replicationFactor)
      problems.push(
        `${topic}: replication factor ${replicas}, at least ${replicationFactor} wanted`,
      );
    const minInsync = Number(config('min.insync.replicas') ?? '1');
    if (minInsync > replicas)
      problems.push(`${topic}: min.insync.replicas ${minInsync} above its ${replicas} replicas`);
    if (retainedForever(topic)) {
      for (const name of ['retention.ms', 'retention.bytes'])
        if (config(name) !== '-1')
          problems.push(
            `${topic}: ${name} is ${config(name) ?? 'unset'}, an event topic keeps every event (-1)`,
          );
      if (config('cleanup.policy') !== 'delete')
        problems.push(
          `${topic}: cleanup.policy is ${config('cleanup.policy') ?? 'unset'}, not delete (compaction drops events)`,
        );
    }
  }
  if (problems.length > 0) throw new TopicSettingsError(problems);
}

/**
 * Creates the topics (and their dead-letter topics) that do not exist yet, then verifies every
 * one of them (verifyTopics): a topic someone created by hand, or the broker with its defaults,
 * is refused with the setting named rather than used to lose events.
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly string[],
  {
    partitions = DEFAULT_PARTITIONS,
    replicationFactor = 1,
    withDeadLetters = true,
    checkPartitions = true,
  }: {
    partitions?: number;
    replicationFactor?: number;
    withDeadLetters?: boolean;
    checkPartitions?: boolean;
  } = {},
): Promise<void> {
  const wanted = withDeadLetters ? topics.flatMap((t) => [t, dlqTopic(t)]) : [...topics];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t));
  if (missing.length > 0) await createTopics(admin, missing, partitions, replicationFactor);
  await verifyTopics(admin, wanted, { partitions, replicationFactor, checkPartitions });
}

async function createTopics(
  admin: Admin,
  missing: readonly string[],
  partitions: number,
  replicationFactor: number,
): Promise<void> {
  await admin.createTopics({
    topics: missing.map((topic) => ({
      topic,
      numPartitions: partitions,
      replicationFactor,
      ...(retainedForever(topic)
        ? {
            configEntries: [
              { name: 'retention.ms', value: '-1' },
              { name: 'retention.bytes', value: '-1' },
            ],
          }
        : {}),
    })),
    waitForLeaders: true,
  });
}
