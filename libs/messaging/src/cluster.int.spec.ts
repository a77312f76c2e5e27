// Kafka as a cluster (real brokers): the local stack's three-node KRaft option, started here on
// its own ports and data. Topics get three copies with two in sync; a topic with fewer copies
// or a min.insync.replicas of one is refused, the setting named. The leader of a partition is
// SIGKILLed while messages are being published and started again: every acknowledged message is
// there afterwards, in its key's order.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';
import { clusterKafka, eventually, uniqueName, workspaceRoot } from '@es/testing';
import type { OutboundMessage } from './envelope/envelope';
import { KafkaPublisher } from './kafka-publisher';
import { TopicSettingsError, ensureTopics, verifyTopics } from './topics';

const PORT = 19_092; // nodes on 19092, 19094, 19096; controllers on the odd ports between
const stackDir = mkdtempSync(join(tmpdir(), 'es-kafka-cluster-'));
const env = {
  ...process.env,
  ES_STACK_DIR: stackDir,
  ES_KAFKA_NODES: '3',
  ES_KAFKA_PORT: String(PORT),
  ES_KAFKA_CONTROLLER_PORT: String(PORT + 1),
  ES_KAFKA_HEAP: '-Xms256m -Xmx512m',
};
const stack = (...args: string[]) =>
  execFileSync('bash', [join(workspaceRoot(), 'infra', 'local', 'stack.sh'), ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 240_000,
  });
const brokers = [PORT, PORT + 2, PORT + 4].map((p) => `127.0.0.1:${p}`);

describe('a three-node Kafka cluster (real brokers)', () => {
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(() => {
    stack('up', 'kafka');
    // As the tools' principal of this cluster (its nodes were formatted with its credentials).
    kafka = clusterKafka('cluster-int', { stackDir, brokers });
    admin = kafka.admin();
    return admin.connect();
  }, 300_000);
  afterAll(async () => {
    await admin.disconnect();
    stack('down', 'kafka');
    rmSync(stackDir, { recursive: true, force: true });
  }, 120_000);

  it('gives topics three copies, two in sync, and refuses one with fewer', async () => {
    const topic = `${uniqueName('cluster')}.events`;
    await ensureTopics(admin, [topic]);
    // A node that has not yet heard of the new topic answers UNKNOWN_TOPIC_OR_PARTITION.
    await eventually(async () => {
      const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      expect(meta?.partitions.map((p) => p.replicas.length)).toEqual([3, 3, 3, 3, 3, 3]);
    });
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['min.insync.replicas'] },
      ],
    });
    expect(resources[0]?.configEntries[0]?.configValue).toBe('2');

    const [single, loose] = [uniqueName('single'), uniqueName('loose')];
    await admin.createTopics({
      topics: [
        { topic: single, numPartitions: 6, replicationFactor: 1 },
        {
          topic: loose,
          numPartitions: 6,
          replicationFactor: 3,
          configEntries: [{ name: 'min.insync.replicas', value: '1' }],
        },
      ],
      waitForLeaders: false,
    });
    // In every broker's metadata (kafkajs' waitForLeaders does not wait for that).
    await eventually(async () => {
      await admin.fetchTopicMetadata({ topics: [single, loose] });
    });
    const refusal = ensureTopics(admin, [single, loose], { withDeadLetters: false });
    await expect(refusal).rejects.toBeInstanceOf(TopicSettingsError);
    await expect(refusal).rejects.toThrow(`${single}: replication factor 1, at least 3 wanted`);
    await expect(refusal).rejects.toThrow(`${loose}: min.insync.replicas 1, at least 2 wanted`);
    await expect(
      verifyTopics(admin, [topic], { replicationFactor: 3, minInsync: 2 }),
    ).resolves.toBeUndefined();
  });

  it('loses no acknowledged message when a partition leader is SIGKILLed mid-stream and started again', async () => {
    const topic = `${uniqueName('killed')}.events`;
    await ensureTopics(admin, [topic], { withDeadLetters: false });
    const publisher = new KafkaPublisher(kafka);
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    const acknowledged: OutboundMessage[] = [];
    let n = 0;
    const batch = () =>
      keys.map((key) => ({
        topic,
        key,
        messageId: `m-${++n}`,
        headers: { seq: String(n) },
        payload: { n },
      }));
    /** Publishes a batch until the cluster takes it (the relay retries so too). */
    let slowestMs = 0;
    const publish = async (messages: OutboundMessage[]) => {
      const started = Date.now();
      for (;;) {
        try {
          await publisher.publish(messages);
          acknowledged.push(...messages);
          slowestMs = Math.max(slowestMs, Date.now() - started);
          return;
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
    };
    try {
      for (let i = 0; i < 40; i++) await publish(batch());
      const [meta] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
      const leader = meta?.partitions.find((p) => p.partitionId === 0)?.leader ?? 1;
      const pidFile = join(stackDir, 'run', leader === 1 ? 'kafka.pid' : `kafka-${leader}.pid`);
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
      const killedAt = Date.now();
      for (let i = 0; i < 40; i++) await publish(batch());
      const degradedMs = Date.now() - killedAt;
      const restartAt = Date.now();
      stack('up', 'kafka'); // the killed node again
      const restartMs = Date.now() - restartAt;
      for (let i = 0; i < 20; i++) await publish(batch());
      console.log(
        `broker ${leader} SIGKILLed: 40 batches of ${keys.length} published in ${degradedMs} ms on two brokers, the slowest batch ${slowestMs} ms; restarted in ${restartMs} ms`,
      );
    } finally {
      await publisher.close();
    }

    const seen = new Map<string, number[]>();
    const consumer = kafka.consumer({ groupId: uniqueName('cluster-reader') });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const ids = new Set<string>();
    const readStarted = Date.now();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const lost = acknowledged.filter((m) => !ids.has(m.messageId));
        reject(
          new Error(
            `read ${ids.size} of ${acknowledged.length}; not read: ${lost.map((m) => `${m.key}/${m.messageId}`).join(', ')}`,
          ),
        );
      }, 90_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const id = message.headers?.['message-id']?.toString() ?? '';
          ids.add(id);
          const key = message.key?.toString() ?? '';
          seen.set(key, [...(seen.get(key) ?? []), Number(message.headers?.['seq']?.toString())]);
          if (acknowledged.every((m) => ids.has(m.messageId))) {
            clearTimeout(timer);
            resolve();
          }
          await Promise.resolve();
        },
      });
    }).finally(() => consumer.disconnect());
    console.log(`every acknowledged message read back in ${Date.now() - readStarted} ms`);
    expect(acknowledged).toHaveLength(100 * keys.length);
    for (const [key, seqs] of seen) {
      // In order per key: a retried batch may repeat what it published, never reorder it.
      const firsts = seqs.filter((s, i) => seqs.indexOf(s) === i);
      expect({ key, ordered: firsts.every((s, i) => i === 0 || s > firsts[i - 1]!) }).toEqual({
        key,
        ordered: true,
      });
    }
  }, 240_000);
});
