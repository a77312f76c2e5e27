// Reading a whole topic once, outside any consumer's flow: from its first offset to the end
// offsets it has when asked, through a consumer group of its own that commits nothing and is
// deleted afterwards (kafkajs reads only through groups). For small topics and checkers: the
// republish markers a rebuild looks up, the chaos harness's look at every message.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, KafkaMessage } from 'kafkajs';

/**
 * Hands each message of the topic, partition by partition in order, to `onMessage`, up to the
 * end offsets the topic had when called; rejects if a partition was not read to that end within
 * `timeoutMs`. A topic that does not exist reads as empty.
 */
export async function readTopic(
  kafka: Kafka,
  topic: string,
  onMessage: (message: KafkaMessage, partition: number) => void,
  { timeoutMs = 120_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `read-topic.${topic}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}`;
  try {
    if (!(await admin.listTopics()).includes(topic)) return;
    const ends = new Map<number, bigint>();
    for (const p of await admin.fetchTopicOffsets(topic))
      if (BigInt(p.high) > BigInt(p.low)) ends.set(p.partition, BigInt(p.high));
    if (ends.size === 0) return;
    const consumer = kafka.consumer({
      groupId,
      maxWaitTimeInMs: 200,
      allowAutoTopicCreation: false,
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      let done: () => void = () => undefined;
      const finished = new Promise<void>((resolve) => (done = resolve));
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          const end = ends.get(batch.partition);
          for (const message of batch.messages)
            if (end !== undefined && BigInt(message.offset) < end)
              onMessage(message, batch.partition);
          if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end)
            ends.delete(batch.partition);
          if (ends.size === 0) done();
          await Promise.resolve();
        },
      });
      const timer = sleep(timeoutMs, undefined, { ref: false });
      await Promise.race([finished, timer]);
      if (ends.size > 0)
        throw new Error(
          `${topic}: partitions ${[...ends.keys()].join(', ')} not read to their end within ${timeoutMs} ms`,
        );
    } finally {
      await consumer.disconnect();
    }
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}
