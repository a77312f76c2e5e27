import type { Admin } from 'kafkajs';

export const DEFAULT_PARTITIONS = 6;

export const dlqTopic = (topic: string): string => `${topic}.dlq`;

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
    topics: missing.map((topic) => ({ topic, numPartitions: partitions, replicationFactor })),
    waitForLeaders: true,
  });
}
