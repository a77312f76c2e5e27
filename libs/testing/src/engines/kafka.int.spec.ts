// Kafka keeps one aggregate's messages in one partition, in send order: the property the
// outbox relay and every consumer build on.
import { Partitioners, type Admin, type Consumer, type Kafka, type Producer } from 'kafkajs';
import { uniqueName } from '../eventually';
import { createTopic, testKafka } from '../kafka';

const PARTITIONS = 6;
const KEYS = 30;
const PER_KEY = 40;

describe('Kafka (local stack)', () => {
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let consumer: Consumer | undefined;
  const topic = uniqueName('stack-keyed');

  beforeAll(async () => {
    kafka = testKafka('stack-int');
    admin = kafka.admin();
    await admin.connect();
    producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('delivers every keyed message to a consumer group, each key in one partition in send order', async () => {
    await createTopic(admin, topic, PARTITIONS);
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]?.partitions).toHaveLength(PARTITIONS);

    // Interleave keys so that order within a key is not an accident of batching.
    const sent: { key: string; seq: number }[] = [];
    for (let seq = 0; seq < PER_KEY; seq++) {
      for (let k = 0; k < KEYS; k++) sent.push({ key: `order-${k}`, seq });
    }
    for (let i = 0; i < sent.length; i += 100) {
      await producer.send({
        topic,
        acks: -1,
        messages: sent.slice(i, i + 100).map((m) => ({ key: m.key, value: JSON.stringify(m) })),
      });
    }

    const received: { key: string; seq: number; partition: number }[] = [];
    consumer = kafka.consumer({ groupId: uniqueName('stack-group'), maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const all = new Promise<void>((resolve) => {
      void consumer!.run({
        eachMessage: async ({ partition, message }) => {
          const body = JSON.parse(message.value!.toString()) as { key: string; seq: number };
          expect(message.key?.toString()).toBe(body.key);
          received.push({ ...body, partition });
          if (received.length === sent.length) resolve();
          return Promise.resolve();
        },
      });
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      all,
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`received ${received.length} of ${sent.length}`));
        }, 45_000);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });

    expect(received).toHaveLength(KEYS * PER_KEY);
    const byKey = new Map<string, { seqs: number[]; partitions: Set<number> }>();
    for (const m of received) {
      const entry = byKey.get(m.key) ?? { seqs: [], partitions: new Set<number>() };
      entry.seqs.push(m.seq);
      entry.partitions.add(m.partition);
      byKey.set(m.key, entry);
    }
    expect(byKey.size).toBe(KEYS);
    const ascending = Array.from({ length: PER_KEY }, (_, i) => i);
    for (const [key, { seqs, partitions }] of byKey) {
      expect({ key, partitions: partitions.size }).toEqual({ key, partitions: 1 });
      expect({ key, seqs }).toEqual({ key, seqs: ascending });
    }
    // 30 keys over 6 partitions: the key hash must actually spread them.
    expect(new Set(received.map((m) => m.partition)).size).toBeGreaterThan(1);
  });
});
