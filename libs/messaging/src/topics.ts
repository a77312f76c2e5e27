import type { Admin } from 'kafkajs';

export const DEFAULT_PARTITIONS = 6;

export const dlqTopic = (topic: string): string => `${topic}.dlq`;

/**
 * Event topics (`<context>.events`) keep every message: a projection rebuild replays them from
 * the beginning (docs/decisions.md, read models), so time-based deletion would make a rebuilt
 * read model silently miss its oldest events. Commands, replies and dead letters keep Kafka's
 * default retention.
 */
export const retainedForever = (topic: string): boolean => topic.endsWith('.events');

/** Creates the topics (and their dead-letter topics) that do not exist yet. */
export async function ensureTopics(
  admin: Admin,
  topics: readonly string[],
  {
    partitions = DEFAULT_PARTITIONS,
    replicationFactor = 1,
    withDeadLetters = true,
  }: { partitions?: number; replicationFactor?: number; withDeadLetters?: boolean } = {},
): Promise<void> {
  const wanted = withDeadLetters ? topics.flatMap((t) => [t, dlqTopic(t)]) : [...topics];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t));
  if (missing.length === 0) return;
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
