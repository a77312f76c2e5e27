// The consumer on real Kafka and PostgreSQL: one effect per message however often it arrives,
// retries, dead letters parked (with their notice through the outbox), and committed progress.
// Their redrive and discard: dead-letters.int.spec.ts.
import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import { CommandHandler, OutboxRelay, PostgresEventStore, migrate, postgresInbox } from '../index';
import {
  InboxConsumer,
  KafkaPublisher,
  dlqTopic,
  ensureTopics,
  type EventMetadata,
} from '@es/messaging';
import { counter, counterRegistry } from '../testing/counter';
import { postgresConfig } from '@es/runtime-config';
import {
  collect,
  createTestDatabase,
  eventually,
  testKafka,
  uniqueName,
  type TestDatabase,
} from '@es/testing';

const metadata: EventMetadata = { correlationId: 'corr-consumer', causationId: null };
// The counter's events stay in the store here; only dead letters are published.
const silentCounter = counter({ topic: undefined });

describe('InboxConsumer (real Kafka and PostgreSQL)', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let store: PostgresEventStore;
  let relay: OutboxRelay;
  let publisher: KafkaPublisher;
  const topic = uniqueName('commands');
  const counterId = uniqueName('counter');
  const attemptsOf = new Map<string, number>();

  const consumer = (commitIntervalMs?: number) =>
    new InboxConsumer(kafka, postgresInbox(store), {
      groupId: `${topic}-group`,
      topics: [topic],
      ...(commitIntervalMs === undefined ? {} : { commitIntervalMs }),
      backoffMs: 20,
      handler: async (message, inbox) => {
        attemptsOf.set(message.messageId, (attemptsOf.get(message.messageId) ?? 0) + 1);
        const body = message.payload as { amount: number; failTimes?: number; refuse?: boolean };
        // A refusal no retry can cure (as a DomainError or a refused command says of itself).
        if (body.refuse) throw Object.assign(new Error('refused for good'), { permanent: true });
        if ((attemptsOf.get(message.messageId) ?? 0) <= (body.failTimes ?? 0))
          throw new Error(`refused attempt ${attemptsOf.get(message.messageId)}`);
        await new CommandHandler(store).handle(
          silentCounter,
          counterId,
          { type: 'Increment', amount: body.amount },
          { metadata, inbox },
        );
      },
    });

  const send = (messageId: string, value: string, key = counterId) =>
    producer.send({
      topic,
      acks: -1,
      messages: [{ key, value, headers: { 'message-id': messageId, 'correlation-id': 'corr-x' } }],
    });

  beforeAll(async () => {
    db = await createTestDatabase('consumer');
    await migrate(db.pool);
    store = new PostgresEventStore(db.pool, counterRegistry());
    kafka = testKafka('consumer-int');
    admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [topic]);
    producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    publisher = new KafkaPublisher(kafka);
    relay = new OutboxRelay(postgresConfig(db.name), publisher, {
      name: 'consumer-test',
      registry: counterRegistry(),
      pollIntervalMs: 100,
    });
    relay.start();
    await new CommandHandler(store).handle(
      silentCounter,
      counterId,
      { type: 'Open', limit: 1000 },
      { metadata },
    );
  });

  afterAll(async () => {
    await relay.stop();
    await publisher.close();
    await producer.disconnect();
    await admin.disconnect();
    await db.drop();
  });

  it('has one effect per message, retries what fails for now, dead-letters what never can, and goes on', async () => {
    await send('m-1', JSON.stringify({ amount: 1 }));
    await send('m-1', JSON.stringify({ amount: 1 })); // redelivered duplicate
    await send('m-2', JSON.stringify({ amount: 2, failTimes: 2 })); // succeeds on its third attempt
    // Of other keys: a key's later messages would wait behind them (dead-letters.int.spec.ts).
    await send('m-poison', 'this is not json', `${counterId}-poison`);
    await send('m-failing', JSON.stringify({ amount: 50, refuse: true }), `${counterId}-failing`);
    await send('m-3', JSON.stringify({ amount: 4 }));

    // No commit on the interval during this test: only stop() commits what was handled.
    const first = consumer(600_000);
    await first.start();
    const handler = new CommandHandler(store);
    await eventually(
      async () => {
        expect((await handler.load(silentCounter, counterId)).state).toMatchObject({ total: 7 });
      },
      { timeoutMs: 20_000 },
    );
    expect(attemptsOf.get('m-1')).toBe(1);
    expect(attemptsOf.get('m-2')).toBe(3);
    expect(attemptsOf.get('m-failing')).toBe(1); // permanent: never tried again
    expect(attemptsOf.has('m-poison')).toBe(false); // never reaches the handler

    // Of two keys, so of two partitions of the dead-letter topic: in no order between them.
    const dead = (await collect(kafka, dlqTopic(topic), (m) => m.length >= 2)).sort((x, y) =>
      (x.headers['dlq-original-message-id'] ?? '').localeCompare(
        y.headers['dlq-original-message-id'] ?? '',
      ),
    );
    const [failing, poison] = dead;
    expect(dead.map((m) => m.headers['dlq-original-message-id'])).toEqual([
      'm-failing',
      'm-poison',
    ]);
    expect(dead.map((m) => m.headers['message-id'])).not.toContain('m-poison'); // its own id
    expect(poison!.headers).toMatchObject({
      'dlq-error': 'PoisonMessage: payload is not JSON',
      'dlq-attempts': '1',
      'dlq-original-topic': topic,
      'correlation-id': 'corr-x',
    });
    expect(poison!.value).toBe(JSON.stringify('this is not json'));
    expect(failing!.headers).toMatchObject({
      'dlq-error': 'Error: refused for good',
      'dlq-attempts': '1',
    });
    expect(dead.map((m) => m.key)).toEqual([`${counterId}-failing`, `${counterId}-poison`]);
    // Parked, not marked handled: a redrive can still hand them to the handler.
    const parked = await db.pool.query<{
      id: string;
      message_id: string;
      cause: string;
      raw: boolean;
    }>(
      `SELECT id, message_id, cause, raw FROM dead_letters WHERE consumer = $1 ORDER BY message_id`,
      [`${topic}-group`],
    );
    expect(parked.rows).toEqual([
      { id: expect.any(String) as string, message_id: 'm-failing', cause: 'failed', raw: false },
      { id: expect.any(String) as string, message_id: 'm-poison', cause: 'failed', raw: true },
    ]);
    expect(dead.map((m) => m.headers['dlq-letter-id'])).toEqual(parked.rows.map((r) => r.id));

    // Committed progress: stopping commits what was handled, and the same group started
    // again reprocesses nothing.
    await first.stop();
    const [committed] = await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    const used = ends.filter((p) => p.offset !== '0'); // the key's partition; the rest are empty
    expect(used.length).toBeGreaterThan(0);
    for (const end of used)
      expect(committed?.partitions.find((p) => p.partition === end.partition)?.offset).toBe(
        end.offset,
      );
    const attemptsBefore = new Map(attemptsOf);
    const second = consumer();
    await second.start();
    await send('m-4', JSON.stringify({ amount: 8 }));
    await eventually(
      async () => {
        expect((await handler.load(silentCounter, counterId)).state).toMatchObject({ total: 15 });
      },
      { timeoutMs: 20_000 },
    );
    // And while it runs, the handled offsets are committed on the interval (500 ms).
    const [end] = (await admin.fetchTopicOffsets(topic)).filter((p) => p.offset !== '0');
    await eventually(
      async () => {
        const [now] = await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
        expect(now?.partitions.find((p) => p.partition === end?.partition)?.offset).toBe(
          end?.offset,
        );
      },
      { timeoutMs: 5_000 },
    );
    await second.stop();
    for (const [id, attempts] of attemptsBefore)
      expect({ id, attempts: attemptsOf.get(id) }).toEqual({ id, attempts });
    const { rows } = await db.pool.query<{ message_id: string; result: unknown }>(
      'SELECT message_id, result FROM inbox ORDER BY processed_at, message_id',
    );
    expect(rows.map((r) => r.message_id).sort()).toEqual(['m-1', 'm-2', 'm-3', 'm-4']);
  });

  describe('a batch handled key by key (keysConcurrently)', () => {
    const produce = (name: string, messages: { key: string; id: string; value: string }[]) =>
      producer.send({
        topic: name,
        acks: -1,
        messages: messages.map((m) => ({
          key: m.key,
          value: m.value,
          headers: { 'message-id': m.id },
        })),
      });
    const keyed = (keys: number, each: number, tag: string) =>
      Array.from({ length: keys * each }, (_, i) => ({
        key: `${tag}-k${i % keys}`,
        id: `${tag}-m${i}`,
        seq: Math.floor(i / keys),
      }));

    it('handles different keys together and each key in order, and commits the whole batch', async () => {
      const name = uniqueName('keyed');
      await ensureTopics(admin, [name], { partitions: 1 }); // one partition: one batch
      const sent = keyed(6, 5, name);
      await produce(
        name,
        sent.map((m) => ({ ...m, value: JSON.stringify({ key: m.key, seq: m.seq }) })),
      );
      let inFlight = 0;
      let widest = 0;
      const busy = new Set<string>();
      const seen: { key: string; seq: number }[] = [];
      const overlapped: string[] = [];
      const keyedConsumer = new InboxConsumer(kafka, postgresInbox(store), {
        groupId: `${name}-group`,
        topics: [name],
        keysConcurrently: 4,
        handler: async (message) => {
          const body = message.payload as { key: string; seq: number };
          if (busy.has(body.key)) overlapped.push(body.key);
          busy.add(body.key);
          widest = Math.max(widest, ++inFlight);
          await new Promise((resolve) => setTimeout(resolve, 20));
          seen.push(body);
          inFlight--;
          busy.delete(body.key);
        },
      });
      await keyedConsumer.start();
      try {
        await eventually(
          () => {
            expect(seen).toHaveLength(sent.length);
          },
          { timeoutMs: 20_000 },
        );
        expect(widest).toBeGreaterThan(1);
        expect(widest).toBeLessThanOrEqual(4);
        expect(overlapped).toEqual([]);
        for (let k = 0; k < 6; k++) {
          const key = `${name}-k${k}`;
          expect(seen.filter((m) => m.key === key).map((m) => m.seq)).toEqual([0, 1, 2, 3, 4]);
        }
      } finally {
        await keyedConsumer.stop();
      }
      const [committed] = await admin.fetchOffsets({ groupId: `${name}-group`, topics: [name] });
      expect(committed?.partitions[0]?.offset).toBe(String(sent.length));
    });

    it('after a message fails outright, nothing new starts and the batch is fetched again from the first message not handled', async () => {
      const name = uniqueName('keyed-fail');
      await ensureTopics(admin, [name], { partitions: 1 });
      // The appends go through a group commit, as in the services.
      const grouped = new PostgresEventStore(db.pool, counterRegistry(), { groupCommit: true });
      const handler = new CommandHandler(grouped);
      const sent = keyed(3, 4, name);
      const counterOf = (key: string) => `${key}-counter`;
      for (let k = 0; k < 3; k++)
        await handler.handle(
          silentCounter,
          counterOf(`${name}-k${k}`),
          { type: 'Open', limit: 1_000_000 },
          { metadata },
        );
      // The second message of the first key is refused for good, and its dead letter cannot be
      // written the first time: its handling throws out of the consumer. The other keys'
      // messages are slow, so that they have more to start when it does. The first key's later
      // messages then wait behind it.
      const doomed = sent[3]!.id;
      await produce(
        name,
        sent.map((m) => ({
          ...m,
          value: JSON.stringify({ key: m.key, doomed: m.id === doomed }),
        })),
      );
      const inbox = postgresInbox(grouped);
      let deadLetterRefused = false;
      const parking: typeof inbox = {
        ...inbox,
        park: (letter, behindOnly) => {
          if (letter.cause === 'failed' && !deadLetterRefused) {
            deadLetterRefused = true;
            return Promise.reject(new Error('the database is away'));
          }
          return inbox.park(letter, behindOnly);
        },
      };
      let doomedCalls = 0;
      const startedAfterFailure: string[] = [];
      const failing = new InboxConsumer(kafka, parking, {
        groupId: `${name}-group`,
        topics: [name],
        keysConcurrently: 3,
        checkInboxFirst: false, // as in the services: the append's inbox mark answers a duplicate
        backoffMs: 10,
        handler: async (message, inbox) => {
          const body = message.payload as { key: string; doomed: boolean };
          if (body.doomed) {
            doomedCalls++;
            throw Object.assign(new Error('never handled'), { permanent: true });
          }
          // Between the failure and the batch's next fetch (whose first message is the doomed
          // one again, handled before any other), nothing may start.
          if (deadLetterRefused && doomedCalls === 1) startedAfterFailure.push(message.messageId);
          await new Promise((resolve) => setTimeout(resolve, 30));
          await handler.handle(
            silentCounter,
            counterOf(body.key),
            { type: 'Increment', amount: 1 },
            { metadata, inbox },
          );
        },
      });
      await failing.start();
      try {
        // Every message but the doomed one has its effect once, however often it was fetched.
        await eventually(
          async () => {
            const totals = await Promise.all(
              [0, 1, 2].map(
                async (k) =>
                  (
                    (await handler.load(silentCounter, counterOf(`${name}-k${k}`))).state as {
                      total: number;
                    }
                  ).total,
              ),
            );
            expect(totals).toEqual([1, 4, 4]);
          },
          { timeoutMs: 30_000 },
        );
        const dead = await collect(kafka, dlqTopic(name), (m) => m.length >= 1);
        expect(dead.map((m) => m.headers['dlq-original-message-id'])).toEqual([doomed]);
        expect(startedAfterFailure).toEqual([]);
        expect(doomedCalls).toBe(2); // once, then once more when fetched again
        // The first key's sequence: the doomed message, and its two later ones behind it.
        await eventually(async () => {
          const { rows } = await db.pool.query<{ message_id: string; cause: string }>(
            `SELECT message_id, cause FROM dead_letters WHERE consumer = $1 ORDER BY id`,
            [`${name}-group`],
          );
          expect(rows).toEqual([
            { message_id: doomed, cause: 'failed' },
            { message_id: sent[6]!.id, cause: 'behind' },
            { message_id: sent[9]!.id, cause: 'behind' },
          ]);
        });
      } finally {
        await failing.stop();
      }
      const [committed] = await admin.fetchOffsets({ groupId: `${name}-group`, topics: [name] });
      expect(committed?.partitions[0]?.offset).toBe(String(sent.length));
    });

    it('five seconds of transient failure dead-letter nothing: the key waits behind it, other keys go on, one effect', async () => {
      const name = uniqueName('keyed-transient');
      await ensureTopics(admin, [name], { partitions: 1 }); // and its dead-letter topic
      const handler = new CommandHandler(store);
      const counterOf = (key: string) => `${key}-counter`;
      const [stuck, free] = [`${name}-stuck`, `${name}-free`];
      for (const key of [stuck, free])
        await handler.handle(
          silentCounter,
          counterOf(key),
          { type: 'Open', limit: 1_000 },
          { metadata },
        );
      const order: string[] = [];
      const firstTry = new Map<string, number>();
      const consumerOf = () =>
        new InboxConsumer(kafka, postgresInbox(store), {
          groupId: `${name}-group`,
          topics: [name],
          keysConcurrently: 2,
          backoffMs: 50,
          maxBackoffMs: 400,
          handler: async (message, inbox) => {
            const body = message.payload as { key: string; flaky?: boolean };
            const first = firstTry.get(message.messageId) ?? Date.now();
            firstTry.set(message.messageId, first);
            // The database "away" for 5 s, as a restart or a lock storm would make it.
            if (body.flaky && Date.now() - first < 5_000)
              throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
            await handler.handle(
              silentCounter,
              counterOf(body.key),
              { type: 'Increment', amount: 1 },
              { metadata, inbox },
            );
            order.push(message.messageId);
          },
        });
      await produce(name, [
        { key: stuck, id: `${name}-s1`, value: JSON.stringify({ key: stuck, flaky: true }) },
        { key: stuck, id: `${name}-s2`, value: JSON.stringify({ key: stuck }) },
        { key: free, id: `${name}-f1`, value: JSON.stringify({ key: free }) },
        { key: free, id: `${name}-f2`, value: JSON.stringify({ key: free }) },
      ]);
      const consumer = consumerOf();
      await consumer.start();
      try {
        // The other key goes on while the flaky message is tried again.
        await eventually(() => {
          expect(order).toEqual([`${name}-f1`, `${name}-f2`]);
          expect(consumer.stalled()).toMatchObject([
            {
              messageId: `${name}-s1`,
              key: stuck,
              error: expect.stringMatching(/ECONNREFUSED/) as unknown,
            },
          ]);
        });
        // Then it succeeds, and only then does the message behind it on its key run.
        await eventually(
          () => {
            expect(order).toEqual([`${name}-f1`, `${name}-f2`, `${name}-s1`, `${name}-s2`]);
          },
          { timeoutMs: 20_000 },
        );
        expect(consumer.stalled()).toEqual([]);
      } finally {
        await consumer.stop();
      }
      const totals = await Promise.all(
        [stuck, free].map(
          async (key) =>
            ((await handler.load(silentCounter, counterOf(key))).state as { total: number }).total,
        ),
      );
      expect(totals).toEqual([2, 2]);
      // Nothing was dead-lettered, nor marked handled without its effect.
      const [dlqEnd] = await admin.fetchTopicOffsets(dlqTopic(name));
      expect(dlqEnd?.offset).toBe('0');
    });

    it('a consumer stopped while a message is being retried stops at once; the message is handled next time', async () => {
      const name = uniqueName('keyed-retry-stop');
      await ensureTopics(admin, [name], { partitions: 1 });
      const handler = new CommandHandler(store);
      const key = `${name}-k`;
      await handler.handle(
        silentCounter,
        `${key}-counter`,
        { type: 'Open', limit: 10 },
        { metadata },
      );
      let away = true;
      let tries = 0;
      const consumerOf = () =>
        new InboxConsumer(kafka, postgresInbox(store), {
          groupId: `${name}-group`,
          topics: [name],
          backoffMs: 200,
          maxBackoffMs: 10_000,
          handler: async (_message, inbox) => {
            tries++;
            if (away) throw new Error('the database is away');
            await handler.handle(
              silentCounter,
              `${key}-counter`,
              { type: 'Increment', amount: 1 },
              { metadata, inbox },
            );
          },
        });
      await produce(name, [{ key, id: `${name}-m`, value: '{}' }]);
      const first = consumerOf();
      await first.start();
      await eventually(() => {
        expect(tries).toBeGreaterThanOrEqual(3); // waits of 0.2, 0.4, then 0.8 s...
      });
      const stopping = performance.now();
      await first.stop();
      expect(performance.now() - stopping).toBeLessThan(5_000);
      const [committed] = await admin.fetchOffsets({ groupId: `${name}-group`, topics: [name] });
      expect(['-1', '0']).toContain(committed?.partitions[0]?.offset);
      away = false;
      const second = consumerOf();
      await second.start();
      try {
        await eventually(
          async () => {
            const state = (await handler.load(silentCounter, `${key}-counter`)).state as {
              total: number;
            };
            expect(state.total).toBe(1);
          },
          { timeoutMs: 20_000 },
        );
      } finally {
        await second.stop();
      }
    });

    it('stopping in the middle of a batch commits what was handled, and the rest is handled next', async () => {
      const name = uniqueName('keyed-stop');
      await ensureTopics(admin, [name], { partitions: 1 });
      const sent = keyed(2, 10, name);
      await produce(
        name,
        sent.map((m) => ({ ...m, value: JSON.stringify({}) })),
      );
      const handledBy = new Map<string, string[]>();
      const slow = (who: string) =>
        new InboxConsumer(kafka, postgresInbox(store), {
          groupId: `${name}-group`,
          topics: [name],
          keysConcurrently: 2,
          handler: async (message, inbox) => {
            await new Promise((resolve) => setTimeout(resolve, 40));
            // The inbox mark, as a handler's append writes it: a redelivery is not handled twice.
            await store.append({ type: 'stop-test', id: message.messageId }, [], {
              expectedVersion: 'any',
              metadata,
              inbox: { ...inbox, result: who },
            });
            handledBy.set(message.messageId, [...(handledBy.get(message.messageId) ?? []), who]);
          },
        });
      const first = slow('first');
      await first.start();
      await eventually(() => {
        expect(handledBy.size).toBeGreaterThanOrEqual(4);
      });
      await first.stop();
      const [committed] = await admin.fetchOffsets({ groupId: `${name}-group`, topics: [name] });
      const at = Number(committed?.partitions[0]?.offset);
      // Committed: what was handled without a gap, at least the first messages of each key.
      expect(at).toBeGreaterThanOrEqual(2);
      expect(at).toBeLessThan(sent.length);
      for (const m of sent.slice(0, at)) expect(handledBy.get(m.id)).toEqual(['first']);
      const second = slow('second');
      await second.start();
      try {
        await eventually(
          () => {
            expect(handledBy.size).toBe(sent.length);
          },
          { timeoutMs: 20_000 },
        );
      } finally {
        await second.stop();
      }
      // Each message handled once in effect (the inbox answers a message seen again).
      const { rows } = await db.pool.query<{ message_id: string }>(
        `SELECT message_id FROM inbox WHERE consumer = $1`,
        [`${name}-group`],
      );
      expect(new Set(rows.map((r) => r.message_id))).toEqual(new Set(sent.map((m) => m.id)));
      for (const m of sent) expect(handledBy.get(m.id)).toHaveLength(1);
    });
  });
});
