// Republishing from the event store (real PostgreSQL): a stream's range, or the whole store in
// batches, written to the outbox as the messages the relay published the first time (the event
// id as message id, the stream id as key, its headers, its envelope upcast), only for the stream
// types that have a topic; a republish marked with an inbox ref happens once.
import { AlreadyHandledError, eventMessage } from '@es/messaging';
import { createTestDatabase, uniqueName, type TestDatabase } from '@es/testing';
import { PostgresEventStore, migrate, republishAll, republishStream } from '../index';
import { counterRegistry } from '../testing/counter';

const metadata = { correlationId: 'corr-republish', causationId: 'op-1' };

describe('republish (real PostgreSQL)', () => {
  let db: TestDatabase;
  let store: PostgresEventStore;
  const outbox = async () =>
    (
      await db.pool.query<{
        topic: string;
        message_key: string;
        message_id: string;
        headers: Record<string, string>;
        payload: unknown;
      }>(
        'SELECT topic, message_key, message_id, headers, payload FROM outbox WHERE event_position IS NULL ORDER BY transaction_id, id',
      )
    ).rows;

  beforeAll(async () => {
    db = await createTestDatabase('republish');
    await migrate(db.pool);
    store = new PostgresEventStore(db.pool, counterRegistry());
  });
  afterAll(async () => {
    await db.drop();
  });

  it('writes a stream range, then the whole store in batches, as the relay published them', async () => {
    const [a, b] = [uniqueName('a'), uniqueName('b')];
    await store.append(
      { type: 'counter', id: a },
      [
        { type: 'CounterOpened', data: { limit: 10 } },
        { type: 'Incremented', data: { amount: 1 } },
        { type: 'Incremented', data: { amount: 2 } },
      ],
      { expectedVersion: 'no_stream', metadata },
    );
    await store.append(
      { type: 'counter', id: b },
      [{ type: 'CounterOpened', data: { limit: 5 } }],
      {
        expectedVersion: 'no_stream',
        metadata,
      },
    );
    await store.append(
      { type: 'other', id: 'x' },
      [{ type: 'CounterOpened', data: { limit: 1 } }],
      {
        expectedVersion: 'no_stream',
        metadata,
      },
    );
    const topicOf = (type: string) => (type === 'counter' ? 'counters.events' : undefined);

    const n = await republishStream(
      store,
      { type: 'counter', id: a },
      { fromVersion: 2, toVersion: 3 },
      {
        topicOf,
        metadata,
        headers: { 'republished-by': 'op' },
      },
    );
    expect(n).toBe(2);
    const events = await store.readStream({ type: 'counter', id: a });
    const rows = await outbox();
    expect(rows).toEqual(
      events.slice(1).map((e) => {
        const message = eventMessage(e);
        return {
          topic: 'counters.events',
          message_key: a,
          message_id: e.eventId,
          headers: { ...message.headers, 'republished-by': 'op' },
          payload: message.payload,
        };
      }),
    );

    await db.pool.query('DELETE FROM outbox');
    const seen: bigint[] = [];
    const all = await republishAll(store, {
      topicOf,
      metadata,
      batch: 2,
      onBatch: (checkpoint) => seen.push(checkpoint.position),
    });
    expect(all.events).toBe(4); // the `other` stream has no topic
    expect(seen).toHaveLength(3); // 5 events, 2 a batch
    expect((await outbox()).map((r) => r.message_key)).toEqual([a, a, a, b]);
    // From a checkpoint: nothing after the last.
    expect((await republishAll(store, { topicOf, metadata, after: all.checkpoint })).events).toBe(
      0,
    );
  });

  it('happens once under an inbox ref', async () => {
    const c = uniqueName('c');
    await store.append(
      { type: 'counter', id: c },
      [{ type: 'CounterOpened', data: { limit: 1 } }],
      {
        expectedVersion: 'no_stream',
        metadata,
      },
    );
    const once = () =>
      republishStream(
        store,
        { type: 'counter', id: c },
        {},
        {
          topicOf: () => 'counters.events',
          metadata,
          inbox: { consumer: 'nudge', messageId: `${c}/1` },
        },
      );
    expect(await once()).toBe(1);
    await expect(once()).rejects.toBeInstanceOf(AlreadyHandledError);
    const { rows } = await db.pool.query(
      `SELECT count(*)::int AS n FROM outbox WHERE message_key = $1 AND event_position IS NULL`,
      [c],
    );
    expect(rows[0]).toEqual({ n: 1 });
  });
});
