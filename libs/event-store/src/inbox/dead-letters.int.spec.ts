// The sequenced dead-letter store on real Kafka and PostgreSQL: a key's later messages wait
// behind its parked one, a redrive hands them to the handler in order (a dry run first, the
// head only for one letter, one redrive of a key at a time), each with one effect however the
// redrive is interrupted, a message that arrives during a redrive waits its turn, and a
// discarded letter is never handled, even redelivered.
import { Partitioners, type Admin, type Kafka, type Producer } from 'kafkajs';
import {
  CommandHandler,
  PostgresEventStore,
  migrate,
  postgresDeadLetters,
  postgresInbox,
} from '../index';
import {
  DeadLetterRedriver,
  InboxConsumer,
  NotSequenceHeadError,
  ensureTopics,
  type ConsumedMessage,
  type DeadLetterStore,
  type EventMetadata,
  type InboxRef,
  type RedriveTarget,
} from '@es/messaging';
import { counter, counterRegistry } from '../testing/counter';
import {
  createTestDatabase,
  eventually,
  testKafka,
  uniqueName,
  type TestDatabase,
} from '@es/testing';

const metadata: EventMetadata = { correlationId: 'corr-dlq', causationId: null };
const silentCounter = counter({ topic: undefined });

/** A message's body: an increment, refused for good until its bug is `fixed`. */
interface Body {
  readonly type: 'Inc';
  readonly schemaVersion: number;
  readonly data: { readonly amount: number; readonly bug?: string };
}

describe('the sequenced dead-letter store (real Kafka and PostgreSQL)', () => {
  let db: TestDatabase;
  let kafka: Kafka;
  let admin: Admin;
  let producer: Producer;
  let store: PostgresEventStore;
  let letters: DeadLetterStore;
  let consumer: InboxConsumer;
  let redriver: DeadLetterRedriver;
  const topic = uniqueName('dlq-commands');
  const group = `${topic}-group`;
  const fixed = new Set<string>();
  /** The amounts handled, per counter, in the order their effects were written. */
  const applied = new Map<string, number[]>();
  /** Holds the next handling of a message of this bug until released (a slow redrive). */
  const gates = new Map<string, Promise<void>>();

  const handler = async (message: ConsumedMessage, inbox: InboxRef) => {
    const body = message.payload as Body;
    const counterId = message.key ?? '';
    if (body.data.bug !== undefined && !fixed.has(body.data.bug))
      throw Object.assign(new Error(`bug ${body.data.bug}`), { permanent: true });
    await gates.get(body.data.bug ?? '');
    await new CommandHandler(store).handle(
      silentCounter,
      counterId,
      { type: 'Increment', amount: body.data.amount },
      { metadata, inbox },
    );
    applied.set(counterId, [...(applied.get(counterId) ?? []), body.data.amount]);
  };
  // Schema version 1 said `amount` in tens.
  const upcast = (message: ConsumedMessage): ConsumedMessage => {
    const body = message.payload as Body;
    return body.schemaVersion === 1
      ? {
          ...message,
          payload: {
            ...body,
            schemaVersion: 2,
            data: { ...body.data, amount: body.data.amount * 10 },
          },
        }
      : message;
  };
  const target: RedriveTarget = { handler, upcast };

  let sent = 0;
  const send = async (key: string, amount: number, bug?: string, schemaVersion = 2) => {
    const id = `${key}-m${++sent}`;
    const body: Body = { type: 'Inc', schemaVersion, data: { amount, ...(bug ? { bug } : {}) } };
    await producer.send({
      topic,
      acks: -1,
      messages: [{ key, value: JSON.stringify(body), headers: { 'message-id': id } }],
    });
    return id;
  };
  const resend = (key: string, id: string, amount: number) =>
    producer.send({
      topic,
      acks: -1,
      messages: [
        {
          key,
          value: JSON.stringify({ type: 'Inc', schemaVersion: 2, data: { amount } }),
          headers: { 'message-id': id },
        },
      ],
    });
  const open = (id: string) =>
    new CommandHandler(store).handle(silentCounter, id, { type: 'Open', limit: 1e9 }, { metadata });
  const total = async (id: string) =>
    ((await new CommandHandler(store).load(silentCounter, id)).state as { total: number }).total;
  const parked = async (key: string) =>
    (await letters.list({ consumer: group, key, status: 'parked', limit: 100 })).map((l) => ({
      messageId: l.messageId,
      cause: l.cause,
    }));

  beforeAll(async () => {
    db = await createTestDatabase('dead_letters');
    await migrate(db.pool);
    store = new PostgresEventStore(db.pool, counterRegistry());
    letters = postgresDeadLetters(db.pool);
    kafka = testKafka('dead-letters-int');
    admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [topic], { partitions: 2 });
    producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    consumer = new InboxConsumer(kafka, postgresInbox(store, letters), {
      groupId: group,
      topics: [topic],
      handler,
      keysConcurrently: 4,
      checkInboxFirst: false,
    });
    await consumer.start();
    redriver = new DeadLetterRedriver(letters, postgresInbox(store, letters), (name) =>
      name === group ? target : undefined,
    );
  });

  afterAll(async () => {
    await consumer.stop();
    await producer.disconnect();
    await admin.disconnect();
    await db.drop();
  });

  it('parks a key behind its failed message, other keys going on; a redrive hands them over in order, once each, and a message arriving meanwhile waits its turn', async () => {
    const [k, other] = [uniqueName('k'), uniqueName('other')];
    await open(k);
    await open(other);
    await send(k, 1);
    const failing = await send(k, 10, 'a');
    const behind = [await send(k, 100), await send(k, 1_000)];
    const free = await send(other, 5);
    await eventually(async () => {
      expect(await parked(k)).toEqual([
        { messageId: failing, cause: 'failed' },
        { messageId: behind[0], cause: 'behind' },
        { messageId: behind[1], cause: 'behind' },
      ]);
      expect(await total(other)).toBe(5); // another key is not held up
    });
    expect(await total(k)).toBe(1);
    expect(free).toBeDefined();

    // A dry run says what would be done, and does nothing.
    const preview = await redriver.redrive({
      consumer: group,
      key: k,
      dryRun: true,
      limit: 10,
      by: 'op',
    });
    expect(preview.letters.map((l) => [l.messageId, l.outcome])).toEqual([
      [failing, 'would-redrive'],
      [behind[0], 'would-redrive'],
      [behind[1], 'would-redrive'],
    ]);
    expect(preview).toMatchObject({ handled: 0, stillParked: 3 });
    // One letter: only the first of its key.
    const [, second] = await letters.list({ consumer: group, key: k, limit: 10 });
    await expect(
      redriver.redriveOne(second!.id, { dryRun: false, by: 'op' }),
    ).rejects.toBeInstanceOf(NotSequenceHeadError);
    // Not fixed yet: it fails again, stays parked with its attempts, and the key stops there.
    const again = await redriver.redrive({
      consumer: group,
      key: k,
      dryRun: false,
      limit: 10,
      by: 'op',
    });
    expect(again.letters.map((l) => [l.messageId, l.outcome])).toEqual([[failing, 'failed']]);
    expect(again).toMatchObject({ handled: 0, failed: 1, stillParked: 3 });
    const [head] = await letters.list({ consumer: group, key: k, limit: 1 });
    expect(head).toMatchObject({ messageId: failing, attempts: 2, error: 'Error: bug a' });

    // Fixed. The redrive is slow on its first letter; a message of the key arrives meanwhile.
    fixed.add('a');
    let release: () => void = () => undefined;
    gates.set('a', new Promise<void>((resolve) => (release = resolve)));
    const redriving = redriver.redrive({
      consumer: group,
      key: k,
      dryRun: false,
      limit: 10,
      by: 'op',
    });
    const late = await send(k, 10_000);
    await eventually(async () => {
      expect((await parked(k)).map((l) => l.messageId)).toContain(late);
    });
    release();
    const report = await redriving;
    expect(report.letters.map((l) => [l.messageId, l.outcome])).toEqual([
      [failing, 'handled'],
      [behind[0], 'handled'],
      [behind[1], 'handled'],
      [late, 'handled'],
    ]);
    expect(report).toMatchObject({ handled: 4, failed: 0, stillParked: 0, busy: [] });
    expect(applied.get(k)).toEqual([1, 10, 100, 1_000, 10_000]);
    const resolved = await letters.get(head!.id);
    expect(resolved).toMatchObject({ status: 'redriven', resolution: 'handled', resolvedBy: 'op' });

    // The key flows again; a redelivery of a redriven message has no effect; nothing is left.
    await send(k, 100_000);
    await resend(k, behind[0]!, 100);
    await eventually(async () => {
      expect(await total(k)).toBe(111_111);
    });
    expect(await parked(k)).toEqual([]);
    expect(
      (await redriver.redrive({ consumer: group, key: k, dryRun: false, limit: 10, by: null }))
        .letters,
    ).toEqual([]);
  });

  it('a redrive that dies after the effect but before marking the letter finds it a duplicate next time: one effect', async () => {
    const k = uniqueName('crash');
    await open(k);
    const failing = await send(k, 7, 'b');
    await eventually(async () => {
      expect(await parked(k)).toEqual([{ messageId: failing, cause: 'failed' }]);
    });
    fixed.add('b');
    const interrupted = new DeadLetterRedriver(
      {
        ...letters,
        redriven: () => Promise.reject(new Error('connection terminated')),
      },
      postgresInbox(store, letters),
      () => target,
    );
    const first = await interrupted.redrive({
      consumer: group,
      key: k,
      dryRun: false,
      limit: 10,
      by: null,
    });
    expect(first.letters.map((l) => l.outcome)).toEqual(['failed']);
    expect(await total(k)).toBe(7); // the effect was written
    const second = await redriver.redrive({
      consumer: group,
      key: k,
      dryRun: false,
      limit: 10,
      by: null,
    });
    expect(second.letters.map((l) => l.outcome)).toEqual(['duplicate']);
    expect(await total(k)).toBe(7);
    expect(await parked(k)).toEqual([]);
  });

  it('a discarded letter is never handled, even redelivered; the letters behind it are redriven, upcast', async () => {
    const k = uniqueName('discard');
    await open(k);
    const failing = await send(k, 3, 'never');
    const old = await send(k, 4, undefined, 1); // schema version 1: in tens
    await eventually(async () => {
      expect(await parked(k)).toEqual([
        { messageId: failing, cause: 'failed' },
        { messageId: old, cause: 'behind' },
      ]);
    });
    const [head] = await letters.list({ consumer: group, key: k, limit: 1 });
    expect(await letters.discard(head!.id, 'the order was refunded by hand', 'op')).toBe(true);
    expect(await letters.discard(head!.id, 'again', 'op')).toBe(false);
    expect(await letters.get(head!.id)).toMatchObject({
      status: 'discarded',
      resolution: 'the order was refunded by hand',
    });
    const preview = await redriver.redrive({
      consumer: group,
      key: k,
      dryRun: true,
      limit: 10,
      by: null,
    });
    expect(preview.letters).toEqual([
      expect.objectContaining({ messageId: old, eventType: 'Inc', schemaVersion: 1, upcastTo: 2 }),
    ]);
    const report = await redriver.redrive({
      consumer: group,
      key: k,
      dryRun: false,
      limit: 10,
      by: null,
    });
    expect(report.letters.map((l) => [l.messageId, l.outcome])).toEqual([[old, 'handled']]);
    expect(await total(k)).toBe(40);
    // The discarded message again from Kafka, now that the bug would let it through: no effect.
    fixed.add('never');
    await resend(k, failing, 3);
    await send(k, 1);
    await eventually(async () => {
      expect(await total(k)).toBe(41);
    });
  });

  it('one redrive of a key at a time: a key being redriven is reported busy, not touched', async () => {
    const k = uniqueName('busy');
    await open(k);
    const failing = await send(k, 2, 'c');
    await eventually(async () => {
      expect(await parked(k)).toEqual([{ messageId: failing, cause: 'failed' }]);
    });
    fixed.add('c');
    const release = await letters.claim({ consumer: group, topic, key: k });
    expect(release).toBeDefined();
    try {
      const report = await redriver.redrive({
        consumer: group,
        key: k,
        dryRun: false,
        limit: 10,
        by: null,
      });
      expect(report).toMatchObject({
        handled: 0,
        busy: [{ consumer: group, topic, key: k }],
        stillParked: 1,
      });
    } finally {
      await release?.();
    }
    const report = await redriver.redrive({
      consumer: group,
      key: k,
      dryRun: false,
      limit: 10,
      by: null,
    });
    expect(report).toMatchObject({ handled: 1, busy: [], stillParked: 0 });
    expect(await total(k)).toBe(2);
  });
});
