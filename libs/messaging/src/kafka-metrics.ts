// Gauges read from the broker when metrics are scraped: each consumer group's lag per partition
// (the end offset minus the group's committed offset; what is waiting for it) and the size of
// each dead-letter topic. From the broker, so they are right even while a consumer is stuck,
// and every instance of a service reports the same figures.
import type { Admin, Kafka } from 'kafkajs';
import type { Meter, ObservableResult } from '@opentelemetry/api';
import { dlqTopic } from './topics';

export interface ConsumerGroupRef {
  readonly groupId: string;
  readonly topics: readonly string[];
}

export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** The group's committed offset; null when it has committed none on this partition. */
  readonly committed: string | null;
  /** The partition's first and next offsets (low and high watermarks). */
  readonly low: string;
  readonly end: string;
  readonly lag: number;
}

/** Committed-to-end lag of a group on each partition of its topics (from the start when none). */
export async function consumerLag(admin: Admin, group: ConsumerGroupRef): Promise<PartitionLag[]> {
  const committed = await admin.fetchOffsets({ groupId: group.groupId, topics: [...group.topics] });
  const lags: PartitionLag[] = [];
  for (const topic of group.topics) {
    const mine = committed.find((c) => c.topic === topic)?.partitions ?? [];
    for (const end of await admin.fetchTopicOffsets(topic)) {
      const offset = mine.find((p) => p.partition === end.partition)?.offset ?? '-1';
      const from = BigInt(offset === '-1' ? end.low : offset);
      const behind = BigInt(end.high) - from;
      lags.push({
        topic,
        partition: end.partition,
        committed: offset === '-1' ? null : offset,
        low: end.low,
        end: end.high,
        lag: behind > 0n ? Number(behind) : 0,
      });
    }
  }
  return lags;
}

/** Messages held by a topic (all partitions, end minus start). */
export async function topicSize(admin: Admin, topic: string): Promise<number> {
  let size = 0n;
  for (const p of await admin.fetchTopicOffsets(topic)) size += BigInt(p.high) - BigInt(p.low);
  return Number(size);
}

/**
 * Registers `kafka_consumer_lag{group, topic, partition}` for the groups and
 * `dlq_messages{topic}` for the dead-letter topics of `dlqOf`; returns a stop function (the admin
 * connection is opened at the first scrape). A scrape while Kafka is away reports nothing.
 */
export function registerKafkaGauges(
  meter: Meter,
  kafka: Kafka,
  groups: () => readonly ConsumerGroupRef[],
  dlqOf: () => readonly string[],
): () => Promise<void> {
  let admin: Promise<Admin> | undefined;
  const connected = (): Promise<Admin> => {
    admin ??= (async () => {
      const a = kafka.admin();
      await a.connect();
      return a;
    })().catch((error: unknown) => {
      admin = undefined;
      throw error;
    });
    return admin;
  };
  const observe = async (fn: (a: Admin) => Promise<void>) => {
    try {
      await fn(await connected());
    } catch {
      // Kafka away or a topic missing: no figure this scrape, rather than a wrong one.
    }
  };
  meter
    .createObservableGauge('kafka_consumer_lag', {
      description: "Messages after a consumer group's committed offset, per partition",
    })
    .addCallback((result: ObservableResult) =>
      observe(async (a) => {
        for (const group of groups())
          for (const p of await consumerLag(a, group))
            result.observe(p.lag, {
              group: group.groupId,
              topic: p.topic,
              partition: p.partition,
            });
      }),
    );
  meter
    .createObservableGauge('dlq_messages', {
      description: 'Messages in a dead-letter topic',
    })
    .addCallback((result: ObservableResult) =>
      observe(async (a) => {
        for (const topic of dlqOf())
          result.observe(await topicSize(a, dlqTopic(topic)), { topic: dlqTopic(topic) });
      }),
    );
  return async () => {
    const current = admin;
    admin = undefined;
    if (current) await (await current).disconnect().catch(() => undefined);
  };
}
