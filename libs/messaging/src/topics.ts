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

/**
 * The replication the cluster asks of its topics: its brokers' `default.replication.factor` and
 * `min.insync.replicas` (three and two on the three-node stack and in docker-compose, one and one
 * on a single broker), read from the cluster's configuration rather than counted from the
 * brokers answering now: a service starting while one of three is down must not create topics
 * with two copies for ever (it fails, and tries again, until the third is back).
 */
export async function clusterReplication(
  admin: Admin,
): Promise<{ replicationFactor: number; minInsync: number }> {
  const { brokers } = await admin.describeCluster();
  const { resources } = await admin.describeConfigs({
    includeSynonyms: false,
    resources: brokers.map((b) => ({
      type: ConfigResourceTypes.BROKER,
      name: String(b.nodeId),
      configNames: ['default.replication.factor', 'min.insync.replicas'],
    })),
  });
  const highest = (name: string) =>
    Math.max(
      1,
      ...resources.flatMap((r) =>
        r.configEntries.filter((e) => e.configName === name).map((e) => Number(e.configValue)),
      ),
    );
  return {
    replicationFactor: highest('default.replication.factor'),
    minInsync: highest('min.insync.replicas'),
  };
}

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
    minInsync = 1,
    checkPartitions = true,
  }: {
    partitions?: number;
    replicationFactor?: number;
    minInsync?: number;
    checkPartitions?: boolean;
  } = {},
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
    const topicMinInsync = Number(config('min.insync.replicas') ?? '1');
    if (topicMinInsync > replicas)
      problems.push(
        `${topic}: min.insync.replicas ${topicMinInsync} above its ${replicas} replicas`,
      );
    else if (topicMinInsync < minInsync)
      problems.push(
        `${topic}: min.insync.replicas ${topicMinInsync}, at least ${minInsync} wanted (a write held by one broker would be acknowledged)`,
      );
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
 * is refused with the setting named rather than used to lose events. The replication is the
 * cluster's (replicationFor its brokers) unless given.
 */
export async function ensureTopics(
  admin: Admin,
  topics: readonly string[],
  {
    partitions = DEFAULT_PARTITIONS,
    replicationFactor,
    withDeadLetters = true,
    checkPartitions = true,
  }: {
    partitions?: number;
    replicationFactor?: number;
    withDeadLetters?: boolean;
    checkPartitions?: boolean;
  } = {},
): Promise<void> {
  const replication =
    replicationFactor === undefined
      ? await clusterReplication(admin)
      : { replicationFactor, minInsync: replicationFactor >= 3 ? 2 : 1 };
  const wanted = withDeadLetters ? topics.flatMap((t) => [t, dlqTopic(t)]) : [...topics];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t));
  if (missing.length > 0) {
    await createTopics(admin, missing, partitions, replication);
    await leadersElected(admin, missing);
  }
  // A broker that has not heard of a topic just created (here or by someone else) yet answers
  // it is unknown: asked again.
  for (let attempt = 1; ; attempt++) {
    try {
      await verifyTopics(admin, wanted, { partitions, ...replication, checkPartitions });
      return;
    } catch (error) {
      const unknown = (error as { type?: unknown }).type === 'UNKNOWN_TOPIC_OR_PARTITION';
      if (!unknown || attempt >= 50) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * Waits until every partition of the topics has a leader. Just created, a topic is not yet in
 * every broker's metadata on a cluster of several (UNKNOWN_TOPIC_OR_PARTITION, which kafkajs'
 * own waitForLeaders does not wait out), nor led at once.
 */
async function leadersElected(admin: Admin, topics: readonly string[], timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [...topics] });
      if (
        metadata.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))
      )
        return;
    } catch (error) {
      const type = (error as { type?: unknown }).type;
      if (type !== 'UNKNOWN_TOPIC_OR_PARTITION' && type !== 'LEADER_NOT_AVAILABLE') throw error;
    }
    if (Date.now() > deadline)
      throw new Error(`no leaders for ${topics.join(', ')} in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function createTopics(
  admin: Admin,
  missing: readonly string[],
  partitions: number,
  { replicationFactor, minInsync }: { replicationFactor: number; minInsync: number },
): Promise<void> {
  await admin.createTopics({
    topics: missing.map((topic) => ({
      topic,
      numPartitions: partitions,
      replicationFactor,
      configEntries: [
        { name: 'min.insync.replicas', value: String(minInsync) },
        ...(retainedForever(topic)
          ? [
              { name: 'retention.ms', value: '-1' },
              { name: 'retention.bytes', value: '-1' },
            ]
          : []),
      ],
    })),
    waitForLeaders: false,
  });
}
