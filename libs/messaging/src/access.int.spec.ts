// Kafka's authentication and ACLs on the real local broker (docs/security.md, Kafka): no
// principal, no connection; a service's principal writes and reads only what
// infra/kafka/access.json gives it, and a refused write leaves nothing on the topic.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { kafkaConfig } from '@es/runtime-config';
import { kafkaAs, loadStackEnv, testKafka, uniqueName, workspaceRoot } from '@es/testing';
import { REPUBLISH_MARKERS_TOPIC } from './republish-markers';
import { ensureTopics } from './topics';

const access = JSON.parse(
  readFileSync(join(workspaceRoot(), 'infra', 'kafka', 'access.json'), 'utf8'),
) as { principals: Record<string, unknown> };

const PARTITION = 0;

/** Sends one message as `principal` to partition 0; resolves to the error it met, if any. */
async function sendAs(principal: string, topic: string, value: string): Promise<Error | undefined> {
  const producer: Producer = kafkaAs(principal, `access-${principal}`).producer({
    allowAutoTopicCreation: false,
    retry: { retries: 0 },
  });
  try {
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ partition: PARTITION, value }] });
    return undefined;
  } catch (error) {
    return error as Error;
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

/** Partition 0's high watermark, as the tools' principal sees it. */
async function endOffset(topic: string): Promise<number> {
  const admin = testKafka('access-offsets').admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    return Number(offsets.find((o) => o.partition === PARTITION)?.high ?? 0);
  } finally {
    await admin.disconnect();
  }
}

/**
 * The values of partition 0 from offset `from` to `to` (exclusive): other tests may write to the
 * topic meanwhile, so what arrived is read, not only counted.
 */
async function valuesBetween(topic: string, from: number, to: number): Promise<string[]> {
  if (to <= from) return [];
  const values: string[] = [];
  const consumer = testKafka('access-read').consumer({ groupId: uniqueName('access-read') });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        if (partition === PARTITION && Number(message.offset) >= from) {
          values.push(message.value?.toString() ?? '');
          if (Number(message.offset) >= to - 1) done();
        }
        return Promise.resolve();
      },
    });
    consumer.seek({ topic, partition: PARTITION, offset: String(from) });
    await Promise.race([
      finished,
      new Promise((_, reject) =>
        setTimeout(() => {
          reject(new Error('read timed out'));
        }, 30_000),
      ),
    ]);
    return values;
  } finally {
    await consumer.disconnect();
  }
}

describe('Kafka: every client authenticates, every principal has only its ACLs', () => {
  beforeAll(async () => {
    loadStackEnv();
    // The topics the services would have made: created by the tools' principal if missing.
    const admin = testKafka('access-setup').admin();
    await admin.connect();
    try {
      await ensureTopics(admin, ['sagas.replies', 'orders.commands', 'payments.commands']);
      await ensureTopics(admin, [REPUBLISH_MARKERS_TOPIC], {
        partitions: 1,
        withDeadLetters: false,
      });
    } finally {
      await admin.disconnect();
    }
  });

  it('refuses a client without credentials, and one with a wrong password, at the handshake', async () => {
    const { brokers } = kafkaConfig('anonymous');
    const anonymous = new Kafka({
      clientId: 'anonymous',
      brokers: [...brokers],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    }).admin();
    // The broker closes a connection that does not authenticate before its first request.
    await expect(anonymous.listTopics()).rejects.toThrow('Closed connection');
    await anonymous.disconnect();
    const wrong = new Kafka({
      clientId: 'wrong',
      brokers: [...brokers],
      sasl: { mechanism: 'scram-sha-256', username: 'order-service', password: 'not-it' },
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    }).producer();
    await expect(wrong.connect()).rejects.toThrow(/SASL SCRAM SHA256 authentication failed/);
  });

  it.each([
    ['projection-service', 'sagas.replies'],
    ['saga-orchestrator', 'sagas.replies'],
    ['inventory-service', 'orders.commands'],
    ['payment-service', 'orders.commands'],
    ['order-service', 'payments.commands'],
  ])("refuses %s's write to %s, and nothing arrives", async (principal, topic) => {
    const forged = `forged-${uniqueName(principal)}`;
    const before = await endOffset(topic);
    const error = await sendAs(principal, topic, forged);
    expect(error?.message).toMatch(/not authorized|authorization failed/i);
    expect(await valuesBetween(topic, before, await endOffset(topic))).not.toContain(forged);
  });

  it("lets a service's principal write what it publishes (the check above can pass)", async () => {
    // Sent as the principal that may, the same write lands: a harmless probe on the
    // republish markers' topic, which the projection service reads and skips when unknown.
    const probe = `probe-${uniqueName('allowed')}`;
    const before = await endOffset(REPUBLISH_MARKERS_TOPIC);
    expect(await sendAs('order-service', REPUBLISH_MARKERS_TOPIC, probe)).toBeUndefined();
    expect(
      await valuesBetween(
        REPUBLISH_MARKERS_TOPIC,
        before,
        await endOffset(REPUBLISH_MARKERS_TOPIC),
      ),
    ).toContain(probe);
  });

  it("refuses a service's principal another service's consumer group and topic", async () => {
    const consumer = kafkaAs('order-service', 'access-read').consumer({
      groupId: 'payment-service',
      retry: { retries: 0, restartOnFailure: () => Promise.resolve(false) },
    });
    try {
      const crashed = new Promise<Error>((resolve) => {
        consumer.on(consumer.events.CRASH, (event) => {
          resolve(event.payload.error);
        });
      });
      // Refused at the subscription (the topic's metadata) or at the group's join.
      const error = await (async () => {
        await consumer.connect();
        await consumer.subscribe({ topics: ['payments.commands'], fromBeginning: true });
        await consumer.run({ eachMessage: () => Promise.resolve() });
        return crashed;
      })().catch((e: unknown) => e as Error);
      expect(error.message).toMatch(/not authorized/i);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  });

  it('has a principal in the stack for every one of access.json', () => {
    for (const principal of Object.keys(access.principals))
      expect(() => kafkaAs(principal, 'check')).not.toThrow();
  });
});
