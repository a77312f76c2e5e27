import type { Socket } from 'node:net';
import { Pool, type PoolClient } from 'pg';
import { createTestDatabase, eventually, type TestDatabase } from '@es/testing';
import { CommandHandler } from '../handler/command-handler';
import { onStream } from '../handler/on-stream';
import { counter, counterRegistry, type CounterEvent } from '../testing/counter';
import { AlreadyHandledError, type EventMetadata } from '@es/messaging';
import {
  CommandsRefusedError,
  ConcurrencyError,
  EventValidationError,
  IdempotencyKeyReusedError,
} from './errors';
import { PostgresEventStore } from './event-store';
import { migrate } from './schema';
import { queryTextRowsBatch } from '../pg/text-rows';
import { uuidv7 } from './uuid';
import { START, type RecordedEvent } from './types';

const metadata: EventMetadata = {
  correlationId: 'corr-1',
  causationId: null,
  actor: 'test',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};
const opened = (limit = 100): CounterEvent => ({ type: 'CounterOpened', data: { limit } });
const inc = (amount: number): CounterEvent => ({ type: 'Incremented', data: { amount } });

describe('PostgresEventStore (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let store: PostgresEventStore;
  let n = 0;
  const stream = () => ({ type: 'counter', id: `c-${++n}` });
  // An append with an outbox row: it waits while whileOutboxLocked holds the table.
  const withOutboxRow = {
    expectedVersion: 'no_stream' as const,
    metadata,
    outbox: [{ eventIndex: 0, topic: 't' }],
  };

  /**
   * Runs `work` while another connection holds the outbox table locked, so that every append
   * writing an outbox row waits on it. `unlock` ends the hold early; it ends at the latest when
   * `work` does.
   */
  async function whileOutboxLocked(work: (unlock: () => Promise<void>) => Promise<void>) {
    const holder = await pool.connect();
    let held = true;
    const unlock = async () => {
      if (!held) return;
      held = false;
      await holder.query('ROLLBACK');
    };
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE');
      await work(unlock);
    } finally {
      await unlock().catch(() => undefined);
      holder.release();
    }
  }

  /** The backends of this database waiting on a lock, once there are `count` of them. */
  async function waitingOnLock(count: number): Promise<number[]> {
    let pids: number[] = [];
    await eventually(async () => {
      const { rows } = await pool.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'`,
        [db.name],
      );
      expect(rows).toHaveLength(count);
      pids = rows.map((r) => r.pid);
    });
    return pids;
  }

  beforeAll(async () => {
    db = await createTestDatabase('event_store');
    pool = db.pool;
    expect(await migrate(pool)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await migrate(pool)).toEqual([]); // idempotent
    store = new PostgresEventStore(pool, counterRegistry());
  });
  afterAll(async () => {
    await db.drop();
  });

  it('appends several events atomically and reads them back with metadata, versions and ids', async () => {
    const s = stream();
    const result = await store.append(s, [opened(10), inc(2), inc(3)], {
      expectedVersion: 'no_stream',
      metadata,
    });
    expect(result.nextExpectedVersion).toBe(3);
    const events = await store.readStream(s);
    expect(events.map((e) => [e.streamVersion, e.type, e.data])).toEqual([
      [1, 'CounterOpened', { limit: 10 }],
      [2, 'Incremented', { amount: 2 }],
      [3, 'Incremented', { amount: 3 }],
    ]);
    for (const e of events) {
      expect(e.metadata).toEqual(metadata);
      expect(e.eventId).toMatch(
        /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
    expect(new Set(events.map((e) => e.transactionId)).size).toBe(1);
    expect(events.map((e) => e.eventId)).toEqual(result.events.map((e) => e.eventId));
  });

  it('refuses a stale expected version with a typed error naming the stream and both versions', async () => {
    const s = stream();
    await store.append(s, [opened()], { expectedVersion: 'no_stream', metadata });
    const attempt = store.append(s, [inc(1)], { expectedVersion: 'no_stream', metadata });
    await expect(attempt).rejects.toBeInstanceOf(ConcurrencyError);
    await expect(attempt).rejects.toMatchObject({ stream: s, expected: 'no_stream', actual: 1 });
    await expect(attempt).rejects.toThrow(
      `stream counter/${s.id}: expected version no_stream, but it is at 1`,
    );
    await expect(store.append(s, [inc(1)], { expectedVersion: 5, metadata })).rejects.toMatchObject(
      { expected: 5, actual: 1 },
    );
    expect(await store.currentVersion(s)).toBe(1);
    for (const eventIndex of [1, -1, 0.5]) {
      await expect(
        store.append(s, [inc(1)], {
          expectedVersion: 1,
          metadata,
          outbox: [{ eventIndex, topic: 'counter.events' }],
        }),
      ).rejects.toThrow(`outbox message refers to event ${eventIndex} of 1`);
    }
    expect(await store.currentVersion(s)).toBe(1);
    // A refused new stream (refused by the primary key, not a read) writes none of its parts.
    const outboxRows = async () =>
      Number((await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM outbox')).rows[0]?.n);
    const before = await outboxRows();
    await expect(
      store.append(s, [inc(1)], {
        expectedVersion: 'no_stream',
        metadata,
        outbox: [{ eventIndex: 0, topic: 'counter.events' }],
        inbox: { consumer: 'refused', messageId: s.id },
      }),
    ).rejects.toMatchObject({ expected: 'no_stream', actual: 1 });
    expect(await outboxRows()).toBe(before);
    expect(await store.handled('refused', s.id)).toBeUndefined();
  });

  it('writes each event message pointing at its event, with its own headers or none', async () => {
    const rowsOf = async (ids: readonly string[]) =>
      (
        await db.pool.query<{ message_id: string; event_position: string; headers: unknown }>(
          `SELECT message_id, event_position::text, headers FROM outbox
           WHERE message_id = ANY($1::uuid[]) ORDER BY id`,
          [ids],
        )
      ).rows;
    // Several events: each message names its event; out of order, one with headers.
    const many = await store.append(stream(), [opened(), inc(1), inc(2)], {
      expectedVersion: 'no_stream',
      metadata,
      outbox: [
        { eventIndex: 2, topic: 't', headers: { 'x-note': 'last' } },
        { eventIndex: 0, topic: 't' },
      ],
    });
    const [first, , third] = many.events;
    expect(await rowsOf([first!.eventId, third!.eventId])).toEqual([
      {
        message_id: third!.eventId,
        event_position: String(third!.globalPosition),
        headers: { 'x-note': 'last' },
      },
      { message_id: first!.eventId, event_position: String(first!.globalPosition), headers: {} },
    ]);
    // One event (its id is the statement's $5), with and without headers, to an existing stream.
    const s = stream();
    await store.append(s, [opened()], { expectedVersion: 'no_stream', metadata });
    for (const headers of [{ 'x-note': 'one' }, undefined]) {
      const one = await store.append(s, [inc(1)], {
        expectedVersion: 'any',
        metadata,
        outbox: [{ eventIndex: 0, topic: 't', ...(headers ? { headers } : {}) }],
      });
      const event = one.events[0]!;
      expect(await rowsOf([event.eventId])).toEqual([
        {
          message_id: event.eventId,
          event_position: String(event.globalPosition),
          headers: headers ?? {},
        },
      ]);
    }
    // One event published twice (to two topics), and beside a message with its own payload.
    const twice = await store.append(s, [inc(1)], {
      expectedVersion: 'any',
      metadata,
      outbox: [
        { eventIndex: 0, topic: 'a' },
        { eventIndex: 0, topic: 'b', headers: { 'x-note': 'b' } },
      ],
    });
    const mixedId = uuidv7();
    await store.append(s, [inc(1)], {
      expectedVersion: 'any',
      metadata,
      outbox: [
        { topic: 'p', key: 'k', messageId: mixedId, payload: { n: 1 } },
        { eventIndex: 0, topic: 'c' },
      ],
    });
    const { rows: published } = await db.pool.query<{ topic: string; headers: unknown }>(
      `SELECT topic, headers FROM outbox WHERE message_id = $1 ORDER BY id`,
      [twice.events[0]!.eventId],
    );
    expect(published).toEqual([
      { topic: 'a', headers: {} },
      { topic: 'b', headers: { 'x-note': 'b' } },
    ]);
    // Every row the store wrote: an event message names its event, keyed by its stream, and
    // carries no payload; any other carries a payload and no event. The schema has no CHECK for
    // this (schema.ts, migration 3): the statement is the only writer and this test its guard.
    const { rows: broken } = await db.pool.query(
      `SELECT o.* FROM outbox o LEFT JOIN events e ON e.global_position = o.event_position
        WHERE (o.event_position IS NULL) = (o.payload IS NULL)
           OR (o.event_position IS NOT NULL AND (e.event_id IS DISTINCT FROM o.message_id
               OR e.stream_id IS DISTINCT FROM o.message_key
               OR e.transaction_id IS DISTINCT FROM o.transaction_id))`,
    );
    expect(broken).toEqual([]);
    const { rows: payloads } = await db.pool.query(
      `SELECT topic, message_key, payload FROM outbox WHERE message_id = $1`,
      [mixedId],
    );
    expect(payloads).toEqual([{ topic: 'p', message_key: 'k', payload: { n: 1 } }]);
  });

  it('keeps its connection after a conflict, and survives losing it mid-append', async () => {
    const one = new Pool({ ...pool.options, max: 1 });
    const own = new PostgresEventStore(one, counterRegistry());
    try {
      const pid = async () =>
        (await one.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const s = stream();
      await own.append(s, [opened()], { expectedVersion: 'no_stream', metadata });
      let before = await pid();
      // The unique violation is the server's error: the connection stays in the pool.
      await expect(
        own.append(s, [opened()], { expectedVersion: 'no_stream', metadata }),
      ).rejects.toBeInstanceOf(ConcurrencyError);
      expect(await pid()).toBe(before);

      // An append waiting on a lock loses its connection: the server ends it, or the socket
      // breaks. It fails, nothing is thrown elsewhere (an 'error' event without a listener
      // would be), and the pool reconnects.
      let connected: PoolClient | undefined;
      one.on('connect', (client) => {
        connected = client;
      });
      const cases = [
        ['pool', 'terminate'],
        ['transaction', 'terminate'],
        ['pool', 'socket'],
        ['transaction', 'socket'],
      ] as const;
      for (const [via, cut] of cases) {
        await whileOutboxLocked(async () => {
          const attempt =
            via === 'pool'
              ? own.append(stream(), [opened()], withOutboxRow)
              : own.transaction((tx) => own.append(stream(), [opened()], withOutboxRow, tx));
          const outcome = attempt.then(
            () => 'appended',
            (error: unknown) => (error as Error).message,
          );
          const [waiting] = await waitingOnLock(1);
          if (cut === 'terminate') {
            await pool.query('SELECT pg_terminate_backend($1)', [waiting]);
          } else {
            (
              connected as unknown as { connection: { stream: Socket } }
            ).connection.stream.destroy();
          }
          expect(await outcome).toMatch(/terminat/i);
        });
        await own.append(stream(), [opened()], { expectedVersion: 'no_stream', metadata });
        const now = await pid();
        expect(now).not.toBe(before);
        before = now;
      }
    } finally {
      await one.end();
    }
  });

  // Both wires: text-rows.ts (one Sync for the batch) and pg's own Query (BEGIN ... COMMIT).
  it.each(['text-rows', 'pg'] as const)(
    'appends to several streams in one transaction, all or none, naming the stream that failed (%s wire)',
    async (wire) => {
      const one = new Pool({ ...pool.options, max: 1 }); // every batch on the same connection
      const own = new PostgresEventStore(one, counterRegistry(), { wire });
      try {
        const [a, b, c] = [stream(), stream(), stream()];
        await own.append(b, [opened()], { expectedVersion: 'no_stream', metadata });
        const written = await own.appendAll([
          {
            stream: a,
            events: [opened(), inc(1)],
            options: { expectedVersion: 'no_stream', metadata },
          },
          {
            stream: b,
            events: [inc(2)],
            options: { expectedVersion: 1, metadata, outbox: [{ eventIndex: 0, topic: 't' }] },
          },
        ]);
        expect(written.map((r) => r.nextExpectedVersion)).toEqual([2, 2]);
        // One transaction: one transaction id for all three events.
        expect(new Set(written.flatMap((r) => r.events.map((e) => e.transactionId))).size).toBe(1);

        const versions = () => Promise.all([a, b, c].map((s) => own.currentVersion(s)));
        // A stale expected version on the second stream: the first stream's event is not kept.
        const stale = own.appendAll([
          { stream: c, events: [opened()], options: { expectedVersion: 'no_stream', metadata } },
          { stream: b, events: [inc(1)], options: { expectedVersion: 1, metadata } },
        ]);
        await expect(stale).rejects.toBeInstanceOf(ConcurrencyError);
        await expect(stale).rejects.toMatchObject({ stream: b, expected: 1, actual: 2 });
        expect(await versions()).toEqual([2, 2, 0]);
        // The first stream exists after all ("no stream" expected): nothing of the second is kept.
        const exists = own.appendAll([
          { stream: a, events: [inc(1)], options: { expectedVersion: 'no_stream', metadata } },
          // A shape not used before on this connection: its statement is not parsed by the batch.
          {
            stream: c,
            events: [opened(), inc(1), inc(1)],
            options: { expectedVersion: 'no_stream', metadata },
          },
        ]);
        await expect(exists).rejects.toMatchObject({ stream: a, actual: 2 });
        expect(await versions()).toEqual([2, 2, 0]);
        // A message handled before: its first result, nothing written.
        const inbox = { consumer: 'batch-test', messageId: `m-${a.id}`, result: { first: true } };
        await own.append(c, [opened()], { expectedVersion: 'no_stream', metadata, inbox });
        await expect(
          own.appendAll([
            { stream: a, events: [inc(1)], options: { expectedVersion: 2, metadata, inbox } },
            { stream: b, events: [inc(1)], options: { expectedVersion: 2, metadata } },
          ]),
        ).rejects.toMatchObject({ name: 'AlreadyHandledError', result: { first: true } });
        expect(await versions()).toEqual([2, 2, 1]);
        // The same connection, after failed batches, still runs the prepared statements.
        const d = stream();
        await own.appendAll([
          { stream: a, events: [inc(1)], options: { expectedVersion: 2, metadata } },
          { stream: b, events: [inc(1)], options: { expectedVersion: 2, metadata } },
          {
            stream: d,
            events: [opened(), inc(1), inc(1)],
            options: { expectedVersion: 'no_stream', metadata },
          },
        ]);
        expect(await versions()).toEqual([3, 3, 1]);
        expect(await own.currentVersion(d)).toBe(3);
      } finally {
        await one.end();
      }
    },
  );

  it("groups appends through pg's own Query too, each with its own outcome (pg wire)", async () => {
    const plain = new PostgresEventStore(pool, counterRegistry(), {
      wire: 'pg',
      groupCommit: true,
    });
    const [a, b] = [stream(), stream()];
    await plain.append(b, [opened()], { expectedVersion: 'no_stream', metadata });
    const outcomes = await Promise.allSettled([
      plain.append(a, [opened()], { expectedVersion: 'no_stream', metadata }),
      // A wrong version in the group: no rows, so it fails alone and the others commit.
      plain.append(b, [inc(1)], { expectedVersion: 5, metadata }),
      plain.append(b, [inc(2)], { expectedVersion: 1, metadata }),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(outcomes[1]).toMatchObject({ reason: { name: 'ConcurrencyError', actual: 2 } });
    expect(await Promise.all([a, b].map((x) => plain.currentVersion(x)))).toEqual([1, 2]);
    const [x, y] = (await plain.readStream(b)).slice(-1);
    expect(y).toBeUndefined();
    expect(x?.data).toEqual({ amount: 2 });
  });

  it('refuses an outbox message without a payload, and a batch that cannot be written leaves nothing', async () => {
    const s = stream();
    await expect(
      store.append(s, [opened()], {
        expectedVersion: 'no_stream',
        metadata,
        outbox: [{ topic: 't', key: 'k', messageId: uuidv7(), payload: undefined }],
      }),
    ).rejects.toThrow(/has no payload/);
    expect(await store.currentVersion(s)).toBe(0);

    // The second statement's parameter is refused by pg's serializer after the first statement
    // was written to the socket: the first must not commit, and the connection goes on.
    const one = new Pool({ ...pool.options, max: 1 });
    try {
      const consumer = `abandon-${s.id}`;
      await expect(
        queryTextRowsBatch(one, [
          {
            statement: {
              name: undefined,
              text: 'INSERT INTO inbox (consumer, message_id) VALUES ($1, $2)',
            },
            values: [consumer, 'm'],
          },
          {
            statement: { name: undefined, text: 'SELECT $1::int' },
            values: [42 as unknown as string],
          },
        ]),
      ).rejects.toThrow();
      const { rows } = await one.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM inbox WHERE consumer = $1',
        [consumer],
      );
      expect(rows).toEqual([{ n: 0 }]);
    } finally {
      await one.end();
    }
  });

  it('validates every event before appending and writes nothing of an invalid append', async () => {
    const s = stream();
    const attempt = store.append(s, [opened(), { type: 'Incremented', data: { amount: -1 } }], {
      expectedVersion: 'no_stream',
      metadata,
    });
    await expect(attempt).rejects.toBeInstanceOf(EventValidationError);
    await expect(attempt).rejects.toThrow(
      'event Incremented is invalid: amount: must be a positive integer',
    );
    await expect(
      store.append(s, [{ type: 'Nope', data: {} }], { expectedVersion: 'any', metadata }),
    ).rejects.toThrow("unknown event type 'Nope'");
    expect(await store.readStream(s)).toEqual([]);
  });

  it.each<[string, () => PostgresEventStore]>([
    ['one transaction each', () => store],
    ['grouped', () => new PostgresEventStore(pool, counterRegistry(), { groupCommit: true })],
  ])(
    '1,000 concurrent appends to 20 streams lose and duplicate no version; conflicts are typed (%s)',
    async (_, storeOf) => {
      const store = storeOf();
      const streams = Array.from({ length: 20 }, () => stream());
      let conflicts = 0;
      // Each writer reads the version and appends at it; a typed conflict sends it round again.
      await Promise.all(
        Array.from({ length: 1000 }, async (_, i) => {
          const s = streams[i % streams.length]!;
          let version = 0;
          for (let attempt = 1; ; attempt++) {
            try {
              await store.append(s, [version === 0 ? opened(1_000_000) : inc(1)], {
                expectedVersion: version,
                metadata,
              });
              return;
            } catch (error) {
              if (!(error instanceof ConcurrencyError)) throw error;
              expect(error.stream).toEqual(s);
              conflicts++;
              version = error.actual; // the error says where the stream is: no extra read
              // Exponential back-off with full jitter, as a well-behaved client retries.
              await new Promise((r) => setTimeout(r, Math.random() * Math.min(2 ** attempt, 200)));
            }
          }
        }),
      );
      expect(conflicts).toBeGreaterThan(0);
      process.stdout.write(`1,000 appends to 20 streams: ${conflicts} typed conflicts retried\n`);
      const { rows } = await pool.query<{ stream_id: string; versions: number[] }>(
        `SELECT stream_id, array_agg(stream_version ORDER BY stream_version) AS versions
       FROM events WHERE stream_id = ANY($1) GROUP BY stream_id`,
        [streams.map((s) => s.id)],
      );
      expect(rows).toHaveLength(20);
      for (const row of rows)
        expect(row.versions).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    },
  );

  describe('group commit (group-commit.ts)', () => {
    const grouped = (maxInFlight = 1) =>
      new PostgresEventStore(pool, counterRegistry(), { groupCommit: { maxInFlight } });
    const transactionOf = async (s: { type: string; id: string }) =>
      (await store.readStream(s)).map((e) => e.transactionId);

    it('appends made together share one transaction, and a conflict fails only its own', async () => {
      const own = grouped();
      const [a, b, c, d, e] = [stream(), stream(), stream(), stream(), stream()];
      await own.append(b, [opened()], { expectedVersion: 'no_stream', metadata });
      const outcomes = await Promise.allSettled([
        own.append(a, [opened(), inc(1)], {
          expectedVersion: 'no_stream',
          metadata,
          outbox: [{ eventIndex: 1, topic: 't' }],
        }),
        own.append(b, [inc(5)], { expectedVersion: 7, metadata }), // stale: b is at 1
        own.appendAll([
          { stream: c, events: [opened()], options: { expectedVersion: 'no_stream', metadata } },
          { stream: d, events: [opened()], options: { expectedVersion: 'no_stream', metadata } },
        ]),
        own.append(b, [inc(2)], { expectedVersion: 1, metadata }),
        own.append(e, [opened()], {
          expectedVersion: 'no_stream',
          metadata,
          inbox: { consumer: 'group-test', messageId: `m-${e.id}`, result: { ok: 1 } },
        }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({
        name: 'ConcurrencyError',
        stream: b,
        expected: 7,
        actual: 2, // read once its group committed, b's other append with it
      });
      expect(outcomes[3]).toMatchObject({ value: { nextExpectedVersion: 2 } });
      // One group, one transaction: every event written by it has the same transaction id.
      const written = await Promise.all([a, c, d, e].map(transactionOf));
      const bAfter = await store.readStream(b);
      expect(bAfter.map((x) => x.streamVersion)).toEqual([1, 2]);
      expect(new Set([...written.flat(), bAfter[1]!.transactionId]).size).toBe(1);
      expect(await store.handled('group-test', `m-${e.id}`)).toEqual({ result: { ok: 1 } });
      const { rows } = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM outbox WHERE message_key = $1`,
        [a.id],
      );
      expect(rows[0]!.n).toBe(1);
    });

    it('a statement that fails its group rolls it back, and every append of it runs on its own', async () => {
      const own = grouped();
      const [a, b, c, d, e] = [stream(), stream(), stream(), stream(), stream()];
      const inbox = { consumer: 'group-test', messageId: `m-${a.id}`, result: { first: true } };
      await own.append(a, [opened()], { expectedVersion: 'no_stream', metadata, inbox });
      await own.append(d, [opened()], { expectedVersion: 'no_stream', metadata });
      const outcomes = await Promise.allSettled([
        own.append(b, [opened()], { expectedVersion: 'no_stream', metadata }),
        // A message handled before: the unique inbox key fails the whole group's statement.
        own.append(a, [inc(1)], { expectedVersion: 1, metadata, inbox }),
        // A multi-stream unit with a stale stream: it fails whole (c is not written).
        own.appendAll([
          { stream: c, events: [opened()], options: { expectedVersion: 'no_stream', metadata } },
          { stream: d, events: [inc(1)], options: { expectedVersion: 3, metadata } },
        ]),
        // An existing stream expected new: the primary key refuses it.
        own.append(d, [opened()], { expectedVersion: 'no_stream', metadata }),
        own.append(e, [opened()], { expectedVersion: 'no_stream', metadata }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual([
        'fulfilled',
        'rejected',
        'rejected',
        'rejected',
        'fulfilled',
      ]);
      const reasons = outcomes.map((o): unknown =>
        o.status === 'rejected' ? o.reason : undefined,
      );
      expect(reasons[1]).toMatchObject({ name: 'AlreadyHandledError', result: { first: true } });
      expect(reasons[2]).toMatchObject({ name: 'ConcurrencyError', stream: d, actual: 1 });
      expect(reasons[3]).toMatchObject({ name: 'ConcurrencyError', stream: d, actual: 1 });
      expect(await Promise.all([a, b, c, d, e].map((s) => store.currentVersion(s)))).toEqual([
        1, 1, 0, 1, 1,
      ]);
      // Run again one by one: b and e were written in transactions of their own.
      const [tb, te] = await Promise.all([b, e].map(transactionOf));
      expect(tb![0]).not.toBe(te![0]);
    });

    it('after a failed statement its append runs alone, and the appends after it go together again', async () => {
      const own = grouped();
      const [p, q, r, t] = [stream(), stream(), stream(), stream()];
      const inbox = { consumer: 'group-test', messageId: `m-${q.id}`, result: { first: 1 } };
      await own.append(q, [opened()], { expectedVersion: 'no_stream', metadata, inbox });
      const outcomes = await Promise.allSettled([
        own.append(p, [opened()], { expectedVersion: 'no_stream', metadata }),
        own.append(q, [inc(1)], { expectedVersion: 1, metadata, inbox }), // handled before
        own.append(r, [opened()], { expectedVersion: 'no_stream', metadata }),
        own.append(t, [opened()], { expectedVersion: 'no_stream', metadata }),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
      ]);
      const [tp, tr, tt] = (await Promise.all([p, r, t].map(transactionOf))).map((x) => x[0]);
      expect(tr).toBe(tt); // together again, in one transaction
      expect(tp).not.toBe(tr); // the ones before it, in another
    });

    it('two processes grouping the same streams in opposite orders never deadlock', async () => {
      const [one, two] = [grouped(1), grouped(1)];
      const shared = Array.from({ length: 20 }, () => stream());
      const deadlocks = async () =>
        Number(
          (
            await pool.query<{ n: string }>(
              'SELECT deadlocks AS n FROM pg_stat_database WHERE datname = $1',
              [db.name],
            )
          ).rows[0]?.n,
        );
      const before = await deadlocks();
      // Each round, both processes append to every shared stream in one group, in opposite
      // orders, and both groups are held at their first statement until both are waiting, so
      // that they run at the same time: without one order of statements, they cross, and
      // each then holds a row the other waits for.
      for (let round = 0; round < 3; round++) {
        await whileOutboxLocked(async (unlock) => {
          const appendAll = (store: PostgresEventStore, streams: typeof shared) =>
            Promise.all(
              streams.map((s) =>
                store.append(s, [round === 0 ? opened() : inc(1)], {
                  ...withOutboxRow,
                  expectedVersion: 'any',
                }),
              ),
            );
          const both = Promise.all([appendAll(one, shared), appendAll(two, [...shared].reverse())]);
          await waitingOnLock(2);
          await unlock();
          await both;
        });
      }
      expect(await Promise.all(shared.map((s) => store.currentVersion(s)))).toEqual(
        shared.map(() => 6),
      );
      expect(await deadlocks()).toBe(before);
    });

    it('an append refused for its input fails at once and leaves its group alone', async () => {
      const own = grouped();
      const [a, b] = [stream(), stream()];
      const refused = own.append(b, [opened()], {
        expectedVersion: 'no_stream',
        metadata,
        outbox: [{ topic: 't', key: 'k', messageId: uuidv7(), payload: undefined }],
      });
      const kept = own.append(a, [opened()], { expectedVersion: 'no_stream', metadata });
      await expect(refused).rejects.toThrow(/has no payload/);
      await expect(kept).resolves.toMatchObject({ nextExpectedVersion: 1 });
      expect(await store.currentVersion(b)).toBe(0);
    });

    it('a group that loses its connection fails every append of it; the next group reconnects', async () => {
      const one = new Pool({ ...pool.options, max: 1 });
      const own = new PostgresEventStore(one, counterRegistry(), {
        groupCommit: { maxInFlight: 1 },
      });
      try {
        await whileOutboxLocked(async (unlock) => {
          const group = [stream(), stream(), stream()];
          const outcomes = Promise.allSettled(
            group.map((s) => own.append(s, [opened()], withOutboxRow)),
          );
          const [waiting] = await waitingOnLock(1); // one group, on one connection
          await pool.query('SELECT pg_terminate_backend($1)', [waiting]);
          const settled = await outcomes;
          expect(settled.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
          for (const o of settled)
            expect(((o as PromiseRejectedResult).reason as Error).message).toMatch(/terminat/i);
          await unlock();
          expect(await Promise.all(group.map((s) => store.currentVersion(s)))).toEqual([0, 0, 0]);
        });
        await expect(own.append(stream(), [opened()], withOutboxRow)).resolves.toMatchObject({
          nextExpectedVersion: 1,
        });
      } finally {
        await one.end();
      }
    });

    it('a group that gets no answer fails at the query timeout and frees its slot', async () => {
      const timing = new Pool({ ...pool.options, query_timeout: 300 });
      const own = new PostgresEventStore(timing, counterRegistry(), {
        groupCommit: { maxInFlight: 1 },
      });
      try {
        await whileOutboxLocked(async () => {
          const stuck = await Promise.allSettled(
            [stream(), stream()].map((s) => own.append(s, [opened()], withOutboxRow)),
          );
          for (const o of stuck)
            expect(((o as PromiseRejectedResult).reason as Error).message).toMatch(/timeout/i);
          // The only slot is free again: an append that does not wait on the lock goes through
          // while the lock is still held.
          await expect(
            own.append(stream(), [opened()], { expectedVersion: 'no_stream', metadata }),
          ).resolves.toMatchObject({ nextExpectedVersion: 1 });
        });
      } finally {
        await timing.end();
      }
    });

    it('appends waiting while a group is on its way go together in the next', async () => {
      const own = grouped(1);
      const streams = Array.from({ length: 12 }, () => stream());
      // The first goes alone (nothing waits yet); the eleven made while it is on its way wait.
      const first = own.append(streams[0]!, [opened()], { expectedVersion: 'no_stream', metadata });
      await new Promise((resolve) => setImmediate(resolve));
      const rest = streams
        .slice(1)
        .map((s) => own.append(s, [opened()], { expectedVersion: 'no_stream', metadata }));
      await Promise.all([first, ...rest]);
      const ids = (await Promise.all(streams.map(transactionOf))).map((t) => t[0]);
      expect(new Set(ids.slice(1)).size).toBe(1);
      expect(ids[0]).not.toBe(ids[1]);
    });
  });

  describe('reading all events', () => {
    async function readAllFrom(
      checkpoint = START,
    ): Promise<{ events: RecordedEvent[]; checkpoint: typeof START }> {
      const collected: RecordedEvent[] = [];
      let at = checkpoint;
      for (;;) {
        const page = await store.readAll(at, 100);
        collected.push(...page.events);
        at = page.checkpoint;
        if (page.events.length === 0) return { events: collected, checkpoint: at };
      }
    }

    it('never skips a transaction that commits after a later one, and is not stalled by a rollback', async () => {
      const { checkpoint: start } = await readAllFrom();
      const late = await pool.connect();
      const rolledBack = await pool.connect();
      try {
        await late.query('BEGIN');
        const a = stream();
        await store.append(a, [opened()], { expectedVersion: 'no_stream', metadata }, late); // lower position, still open
        await rolledBack.query('BEGIN');
        await store.append(
          stream(),
          [opened()],
          { expectedVersion: 'no_stream', metadata },
          rolledBack,
        );
        const b = stream();
        await store.append(b, [opened()], { expectedVersion: 'no_stream', metadata }); // higher position, committed

        // While the lower position is open, the reader waits rather than passing it.
        const early = await readAllFrom(start);
        expect(early.events).toEqual([]);

        await rolledBack.query('ROLLBACK');
        await late.query('COMMIT');
        const after = await readAllFrom(start);
        expect(after.events.map((e) => e.streamId)).toEqual([a.id, b.id]);
        expect(after.events[0]!.globalPosition).toBeLessThan(after.events[1]!.globalPosition);
      } finally {
        late.release();
        rolledBack.release();
      }
    });
  });

  it("keeps a stream's summary in its append: replaced only by a later version, untouched by a failed one", async () => {
    const s = stream();
    const summary = (status: string, dueAt: string | null) => ({
      status,
      step: 'reserve',
      dueAt,
      startedAt: '2026-01-01T00:00:00.000Z',
    });
    const read = async () =>
      (
        await pool.query<{ v: number; status: string; step: string; due: string | null }>(
          `SELECT stream_version AS v, status, step, due_at::text AS due FROM stream_summaries
            WHERE stream_type = $1 AND stream_id = $2`,
          [s.type, s.id],
        )
      ).rows;
    await store.append(s, [opened(10)], {
      expectedVersion: 'no_stream',
      metadata,
      summary: summary('RUNNING', '2026-01-01T00:00:05.000Z'),
    });
    expect(await read()).toEqual([
      { v: 1, status: 'RUNNING', step: 'reserve', due: '2026-01-01 00:00:05+00' },
    ]);
    // A stale expected version writes nothing, its summary neither.
    await expect(
      store.append(s, [inc(1)], { expectedVersion: 0, metadata, summary: summary('STALE', null) }),
    ).rejects.toBeInstanceOf(ConcurrencyError);
    await store.append(s, [inc(1), inc(2)], {
      expectedVersion: 1,
      metadata,
      summary: summary('COMPLETED', null),
    });
    expect(await read()).toEqual([{ v: 3, status: 'COMPLETED', step: 'reserve', due: null }]);
    // The command handler writes the aggregate's summary with every append of events.
    const handler = new CommandHandler(store);
    const summarized = counter({
      summary: (state) => ({
        status: `TOTAL-${state.status === 'open' ? state.total : 0}`,
        step: null,
        dueAt: null,
        startedAt: null,
      }),
    });
    const id = `c-${++n}`;
    await handler.handle(summarized, id, { type: 'Open', limit: 10 }, { metadata });
    await handler.handle(summarized, id, { type: 'Increment', amount: 4 }, { metadata });
    const { rows } = await pool.query<{ v: number; status: string }>(
      `SELECT stream_version AS v, status FROM stream_summaries WHERE stream_type = 'counter' AND stream_id = $1`,
      [id],
    );
    expect(rows).toEqual([{ v: 2, status: 'TOTAL-4' }]);
  });

  it('reads a stream as of a version or a time', async () => {
    const s = stream();
    await store.append(s, [opened()], { expectedVersion: 'no_stream', metadata });
    await new Promise((r) => setTimeout(r, 30));
    const between = new Date();
    await new Promise((r) => setTimeout(r, 30));
    await store.append(s, [inc(1), inc(2)], { expectedVersion: 1, metadata });
    expect((await store.readStream(s, { toVersion: 2 })).map((e) => e.streamVersion)).toEqual([
      1, 2,
    ]);
    expect((await store.readStream(s, { asOf: between })).map((e) => e.streamVersion)).toEqual([1]);
    const handler = new CommandHandler(store);
    expect(await handler.loadAt(counter(), s.id, { asOf: between })).toEqual({
      state: { status: 'open', limit: 100, total: 0 },
      version: 1,
    });
    expect(await handler.loadAt(counter(), s.id, { toVersion: 2 })).toEqual({
      state: { status: 'open', limit: 100, total: 1 },
      version: 2,
    });
  });

  it('upcasts a stored v1 event to v2 on every read path', async () => {
    const s = stream();
    await store.append(s, [opened()], { expectedVersion: 'no_stream', metadata });
    const { checkpoint } = await store.readAll(START, 1_000_000);
    await pool.query(
      `INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
       VALUES ('counter', $1, 2, gen_random_uuid(), 'Incremented', 1, '{"amount": "7"}', $2)`,
      [s.id, metadata],
    );
    const [v1AsRead] = await store.readStream(s, { afterVersion: 1 });
    expect(v1AsRead).toMatchObject({ type: 'Incremented', schemaVersion: 2, data: { amount: 7 } });
    const all = await store.readAll(checkpoint, 10);
    expect(all.events.find((e) => e.streamId === s.id)).toMatchObject({
      schemaVersion: 2,
      data: { amount: 7 },
    });
    const loaded = await new CommandHandler(store).load(counter({ snapshot: undefined }), s.id);
    expect(loaded.state).toEqual({ status: 'open', limit: 100, total: 7 });
  });

  describe('the command handler', () => {
    it('locks the streams a decision follows on to: concurrent commands in one process wait, not conflict', async () => {
      let conflicts = 0;
      const counting = new (class extends PostgresEventStore {
        override async appendAll(items: Parameters<PostgresEventStore['appendAll']>[0]) {
          try {
            return await super.appendAll(items);
          } catch (error) {
            if (error instanceof ConcurrencyError) conflicts++;
            throw error;
          }
        }
      })(pool, counterRegistry());
      const handler = new CommandHandler(counting);
      const shared = `c-${++n}`;
      await handler.handle(counter(), shared, { type: 'Open', limit: 1_000 }, { metadata });
      const ids = Array.from({ length: 20 }, () => `c-${++n}`);
      for (const id of ids)
        await handler.handle(counter(), id, { type: 'Open', limit: 10 }, { metadata });
      const bump = (id: string) =>
        handler.handleAll(
          [
            onStream(
              counter(),
              id,
              { type: 'Increment', amount: 1 },
              { follows: () => [onStream(counter(), shared, { type: 'Increment', amount: 1 })] },
            ),
          ],
          { metadata },
        );
      await Promise.all(ids.map(bump));
      expect(conflicts).toBe(0);
      expect((await handler.load(counter(), shared)).state).toMatchObject({ total: 20 });
    });

    const handler = () => new CommandHandler(store);

    it('snapshots every N events and loads from the snapshot; a snapshot of another schema version is ignored', async () => {
      const { id } = stream();
      const h = handler();
      await h.handle(counter(), id, { type: 'Open', limit: 100 }, { metadata });
      for (let i = 1; i <= 6; i++)
        await h.handle(counter(), id, { type: 'Increment', amount: i }, { metadata });
      const { snapshot: snap } = await store.readFromSnapshot({ type: 'counter', id }, 1);
      expect(snap).toEqual({
        streamVersion: 6,
        schemaVersion: 1,
        state: { status: 'open', limit: 100, total: 15 },
      });
      expect(await h.load(counter(), id)).toEqual({
        state: { status: 'open', limit: 100, total: 21 },
        version: 7,
        fromSnapshot: 6,
      });

      // A snapshot written under schema 1 whose content a v2 reader could misread: ignored.
      await pool.query(`UPDATE snapshots SET state = '{"garbage": true}' WHERE stream_id = $1`, [
        id,
      ]);
      const v2 = counter({ snapshot: { every: 3, schemaVersion: 2 } });
      expect(await h.load(v2, id)).toEqual({
        state: { status: 'open', limit: 100, total: 21 },
        version: 7,
      });
    });

    it('turns a refused command into a DomainError and writes nothing', async () => {
      const { id } = stream();
      await handler().handle(counter(), id, { type: 'Open', limit: 5 }, { metadata });
      await expect(
        handler().handle(counter(), id, { type: 'Increment', amount: 6 }, { metadata }),
      ).rejects.toMatchObject({ code: 'LIMIT' });
      expect(await store.currentVersion({ type: 'counter', id })).toBe(1);
    });

    it('returns the first result for a message handled before and writes nothing', async () => {
      const { id } = stream();
      const inbox = { consumer: 'test-consumer', messageId: `m-${id}` };
      const first = await handler().handle(
        counter(),
        id,
        { type: 'Open', limit: 5 },
        { metadata, inbox },
      );
      const again = await handler().handle(
        counter(),
        id,
        { type: 'Open', limit: 5 },
        { metadata, inbox },
      );
      expect(first.duplicate).toBe(false);
      expect(again).toEqual({ ...first, duplicate: true });
      expect(await store.currentVersion({ type: 'counter', id })).toBe(1);
      // The load that decides finds the mark (the handler's only lookup before it appends).
      const loaded = await store.readFromSnapshot({ type: 'counter', id }, undefined, { inbox });
      expect(loaded.events.map((e) => e.streamVersion)).toEqual([1]);
      expect(loaded.handled?.result).toMatchObject({
        streams: [{ streamId: id, version: 1, eventIds: first.eventIds }],
      });
      const other = { ...inbox, messageId: `other-${id}` };
      expect(
        await store.readFromSnapshot({ type: 'counter', id }, undefined, { inbox: other }),
      ).not.toHaveProperty('handled');
      // Two deliveries racing past the lookup: the inbox key stops the second in the same statement.
      await expect(
        store.append({ type: 'counter', id }, [inc(1)], { expectedVersion: 1, metadata, inbox }),
      ).rejects.toBeInstanceOf(AlreadyHandledError);
      expect(await store.currentVersion({ type: 'counter', id })).toBe(1);
    });

    it('retries a concurrency conflict by deciding again on the new state', async () => {
      const { id } = stream();
      await handler().handle(counter(), id, { type: 'Open', limit: 1000 }, { metadata });
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          new CommandHandler(store, { maxAttempts: 50 }).handle(
            counter(),
            id,
            { type: 'Increment', amount: 1 },
            { metadata },
          ),
        ),
      );
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([
        2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
      ]);
      expect((await handler().load(counter(), id)).state).toMatchObject({ total: 10 });
    });

    it('refuses an explicit expected version that is not current, without retrying', async () => {
      const { id } = stream();
      await handler().handle(counter(), id, { type: 'Open', limit: 10 }, { metadata });
      await expect(
        handler().handle(
          counter(),
          id,
          { type: 'Increment', amount: 1 },
          { metadata, expectedVersion: 0 },
        ),
      ).rejects.toMatchObject({ expected: 0, actual: 1 });
    });

    it('writes the outbox rows in the append and none for a refused append', async () => {
      const { id } = stream();
      const result = await handler().handle(
        counter(),
        id,
        { type: 'Open', limit: 10 },
        { metadata },
      );
      const { rows } = await pool.query<{
        topic: string;
        message_key: string;
        message_id: string;
        event_position: string;
        payload: unknown;
      }>(
        'SELECT topic, message_key, message_id, event_position, payload FROM outbox WHERE message_key = $1 ORDER BY id',
        [id],
      );
      const [event] = await store.readStream({ type: 'counter', id });
      // An event's message points at the event; the relay builds it at publish time.
      expect(rows).toEqual([
        {
          topic: 'counters.events',
          message_key: id,
          message_id: result.eventIds[0],
          event_position: event!.globalPosition.toString(),
          payload: null,
        },
      ]);
      await store.append({ type: 'counter', id }, [], {
        expectedVersion: 'any',
        metadata,
        outbox: [
          {
            topic: 'commands',
            key: id,
            messageId: '01900000-0000-7000-8000-000000000001',
            payload: { do: 'it' },
          },
        ],
      });
      const { rows: explicit } = await pool.query<{
        headers: Record<string, string>;
        payload: unknown;
      }>("SELECT headers, payload FROM outbox WHERE topic = 'commands' AND message_key = $1", [id]);
      expect(explicit).toEqual([
        {
          headers: { 'correlation-id': 'corr-1', traceparent: metadata.traceparent },
          payload: { do: 'it' },
        },
      ]);
      await expect(
        store.append({ type: 'counter', id }, [inc(1)], {
          expectedVersion: 0,
          metadata,
          outbox: [{ eventIndex: 0, topic: 't' }],
        }),
      ).rejects.toBeInstanceOf(ConcurrencyError);
      expect((await pool.query('SELECT 1 FROM outbox WHERE message_key = $1', [id])).rowCount).toBe(
        2,
      );
    });

    it('appends commands over several streams in one transaction, or nothing when one is refused', async () => {
      const [a, b, c] = [stream().id, stream().id, stream().id];
      const h = handler();
      for (const id of [a, b, c])
        await h.handle(counter(), id, { type: 'Open', limit: 10 }, { metadata });
      const together = await h.handleAll(
        [
          onStream(counter(), a, { type: 'Increment', amount: 4 }),
          onStream(counter(), b, { type: 'Increment', amount: 5 }),
        ],
        { metadata },
      );
      expect(together.streams.map((r) => [r.streamId, r.version, r.eventIds.length])).toEqual([
        [a, 2, 1],
        [b, 2, 1],
      ]);
      const [ea, eb] = await Promise.all(
        [a, b].map(async (id) => (await store.readStream({ type: 'counter', id })).at(-1)!),
      );
      expect(ea!.transactionId).toBe(eb!.transactionId);

      // b and c are refused (over their limits): a is not written either, and both are named.
      const refused = h.handleAll(
        [
          onStream(counter(), a, { type: 'Increment', amount: 1 }),
          onStream(counter(), b, { type: 'Increment', amount: 6 }),
          onStream(counter(), c, { type: 'Increment', amount: 11 }),
        ],
        { metadata },
      );
      await expect(refused).rejects.toBeInstanceOf(CommandsRefusedError);
      await expect(refused).rejects.toMatchObject({
        refusals: [
          { stream: { type: 'counter', id: b }, error: { code: 'LIMIT' } },
          { stream: { type: 'counter', id: c }, error: { code: 'LIMIT' } },
        ],
      });
      expect(
        await Promise.all([a, b, c].map((id) => store.currentVersion({ type: 'counter', id }))),
      ).toEqual([2, 2, 1]);
    });

    it('rolls a multi-stream append back whole when one stream conflicts, then decides again', async () => {
      const [a, b] = [stream().id, stream().id];
      const h = handler();
      for (const id of [a, b])
        await h.handle(counter(), id, { type: 'Open', limit: 1000 }, { metadata });
      // Writers on other handlers (other processes, as far as locks go) race the pair.
      const racers = Array.from({ length: 8 }, (_, i) =>
        new CommandHandler(store, { maxAttempts: 50 }).handle(
          counter(),
          i % 2 ? a : b,
          { type: 'Increment', amount: 1 },
          { metadata },
        ),
      );
      const pairs = Array.from({ length: 8 }, () =>
        new CommandHandler(store, { maxAttempts: 50 }).handleAll(
          [
            onStream(counter(), a, { type: 'Increment', amount: 10 }),
            onStream(counter(), b, { type: 'Increment', amount: 10 }),
          ],
          { metadata },
        ),
      );
      await Promise.all([...racers, ...pairs]);
      const totals = await Promise.all(
        [a, b].map(async (id) => (await h.load(counter(), id)).state),
      );
      expect(totals).toEqual([
        { status: 'open', limit: 1000, total: 84 },
        { status: 'open', limit: 1000, total: 84 },
      ]);
      for (const id of [a, b]) {
        const versions = (await store.readStream({ type: 'counter', id })).map(
          (e) => e.streamVersion,
        );
        expect(versions).toEqual(Array.from({ length: 13 }, (_, i) => i + 1)); // open + 4 + 8
      }
    });

    it('two processes writing the same streams in opposite orders never deadlock', async () => {
      const [a, b] = [stream().id, stream().id];
      for (const id of [a, b])
        await handler().handle(counter(), id, { type: 'Open', limit: 1000 }, { metadata });
      // Separate handlers share no in-process locks, as two service instances would not.
      const run = (ids: string[]) =>
        new CommandHandler(store, { maxAttempts: 50 }).handleAll(
          ids.map((id) => onStream(counter(), id, { type: 'Increment', amount: 1 })),
          { metadata },
        );
      await Promise.all(Array.from({ length: 20 }, (_, i) => run(i % 2 ? [a, b] : [b, a])));
      const states = await Promise.all(
        [a, b].map(async (id) => (await handler().load(counter(), id)).state),
      );
      expect(states).toEqual([
        { status: 'open', limit: 1000, total: 20 },
        { status: 'open', limit: 1000, total: 20 },
      ]);
    });

    it('answers a reused idempotency key with the first result, or refuses it for another request', async () => {
      const [a, b] = [stream().id, stream().id];
      const h = handler();
      for (const id of [a, b])
        await h.handle(counter(), id, { type: 'Open', limit: 100 }, { metadata });
      const inbox = { consumer: 'http:test', messageId: `key-${a}`, fingerprint: 'f1' };
      const pair = () => [
        onStream(counter(), a, { type: 'Increment', amount: 1 }),
        onStream(counter(), b, { type: 'Increment', amount: 2 }),
      ];
      const first = await h.handleAll(pair(), { metadata, inbox });
      const again = await h.handleAll(pair(), { metadata, inbox });
      expect(again).toEqual({ streams: first.streams, duplicate: true });
      await expect(
        h.handleAll(pair(), { metadata, inbox: { ...inbox, fingerprint: 'f2' } }),
      ).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
      expect(
        await Promise.all([a, b].map((id) => store.currentVersion({ type: 'counter', id }))),
      ).toEqual([2, 2]);
    });

    it('serializes commands on one stream within a handler: no conflict, no retry needed', async () => {
      const { id } = stream();
      const h = new CommandHandler(store, { maxAttempts: 1 });
      await h.handle(counter(), id, { type: 'Open', limit: 1000 }, { metadata });
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          h.handle(counter(), id, { type: 'Increment', amount: 1 }, { metadata }),
        ),
      );
      expect(results.map((r) => r.version).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 2),
      );
    });

    describe('deciding on the state it last knew (aggregate-cache.ts)', () => {
      // One definition object: the cache holds a state for the definition that folded it.
      const def = counter();
      afterEach(() => {
        jest.restoreAllMocks();
      });

      it('skips the load for a stream it wrote, and reloads when another process wrote since', async () => {
        const { id } = stream();
        const a = new CommandHandler(store);
        const other = new CommandHandler(store);
        await a.handle(def, id, { type: 'Open', limit: 10 }, { metadata });
        const reads = jest.spyOn(store, 'readFromSnapshot');
        const appends = jest.spyOn(store, 'append');
        expect(
          await a.handle(def, id, { type: 'Increment', amount: 1 }, { metadata }),
        ).toMatchObject({ version: 2 });
        expect(reads).not.toHaveBeenCalled();
        await other.handle(def, id, { type: 'Increment', amount: 2 }, { metadata });
        reads.mockClear();
        appends.mockClear();
        // a's cache says version 2; the stream is at 3: the append conflicts, a reloads once.
        expect(
          await a.handle(def, id, { type: 'Increment', amount: 3 }, { metadata }),
        ).toMatchObject({ version: 4 });
        expect(reads).toHaveBeenCalledTimes(1);
        expect(appends).toHaveBeenCalledTimes(2);
        expect(await new CommandHandler(store).load(def, id)).toMatchObject({
          state: { status: 'open', limit: 10, total: 6 },
          version: 4,
        });
      });

      it('decides a refusal again on a fresh load before reporting it', async () => {
        const { id } = stream();
        const a = new CommandHandler(store);
        expect(await a.load(def, id)).toMatchObject({ version: 0, state: { status: 'none' } });
        // Opened by another process: a's cached "none" would refuse the increment (NOT_OPEN).
        await new CommandHandler(store).handle(def, id, { type: 'Open', limit: 10 }, { metadata });
        expect(
          await a.handle(def, id, { type: 'Increment', amount: 4 }, { metadata }),
        ).toMatchObject({ version: 2 });
        // A refusal that holds on fresh state is still a refusal.
        await expect(
          a.handle(def, id, { type: 'Increment', amount: 7 }, { metadata }),
        ).rejects.toMatchObject({ code: 'LIMIT' });
      });

      it('answers a message handled before with its first result, accepted or refused on the cached state', async () => {
        const { id } = stream();
        const a = new CommandHandler(store);
        await a.handle(def, id, { type: 'Open', limit: 10 }, { metadata });
        const inbox = { consumer: 'cache-test', messageId: `m-${id}` };
        const first = await a.handle(
          def,
          id,
          { type: 'Increment', amount: 6 },
          { metadata, inbox },
        );
        expect(first).toMatchObject({ version: 2, duplicate: false });
        // Cached total 6: the redelivery is accepted on it, and the append's inbox mark refuses it.
        const reads = jest.spyOn(store, 'readFromSnapshot');
        expect(
          await a.handle(def, id, { type: 'Increment', amount: 3 }, { metadata, inbox }),
        ).toEqual({ ...first, duplicate: true });
        expect(reads).not.toHaveBeenCalled();
        // Cached total 6: 6 more is over the limit, and the fresh load finds the message handled.
        expect(
          await a.handle(def, id, { type: 'Increment', amount: 6 }, { metadata, inbox }),
        ).toEqual({ ...first, duplicate: true });
        expect(reads).toHaveBeenCalledTimes(1);
        expect(await store.currentVersion({ type: 'counter', id })).toBe(2);
      });

      it('decides on a stream assumed new without a load; one that exists conflicts and is loaded', async () => {
        const { id } = stream();
        const reads = jest.spyOn(store, 'readFromSnapshot');
        const a = new CommandHandler(store);
        const created = await a.handle(
          def,
          id,
          { type: 'Open', limit: 10 },
          { metadata },
          { assumeNew: true },
        );
        expect(created).toMatchObject({ version: 1 });
        expect(reads).not.toHaveBeenCalled();
        // Another handler, nothing cached: the stream exists, so the append conflicts and the
        // retry loads it; a command that is not a creation then succeeds on the loaded state...
        const b = () => new CommandHandler(store);
        expect(
          await b().handle(
            def,
            id,
            { type: 'Increment', amount: 2 },
            { metadata },
            { assumeNew: true },
          ),
        ).toMatchObject({ version: 2 });
        // ...and a creation is refused on it.
        await expect(
          b().handle(def, id, { type: 'Open', limit: 5 }, { metadata }, { assumeNew: true }),
        ).rejects.toMatchObject({ code: 'ALREADY_OPEN' });
        // A retried request under a new id (PlaceOrder's): the first result, nothing written.
        const inbox = { consumer: 'cache-test', messageId: `create-${id}` };
        const first = await a.handle(
          def,
          `${id}-x`,
          { type: 'Open', limit: 1 },
          { metadata, inbox },
          { assumeNew: true },
        );
        const again = await b().handle(
          def,
          `${id}-y`,
          { type: 'Open', limit: 1 },
          { metadata, inbox },
          { assumeNew: true },
        );
        expect(again).toEqual({ ...first, duplicate: true });
        expect(await store.currentVersion({ type: 'counter', id: `${id}-y` })).toBe(0);
      });

      it('forgets a stream whose append failed, even when it committed', async () => {
        const { id } = stream();
        const a = new CommandHandler(store);
        await a.handle(def, id, { type: 'Open', limit: 10 }, { metadata });
        const append = store.append.bind(store);
        const appends = jest.spyOn(store, 'append').mockImplementationOnce(async (...args) => {
          await append(...args);
          throw new Error('connection lost after the commit');
        });
        await expect(
          a.handle(def, id, { type: 'Increment', amount: 1 }, { metadata }),
        ).rejects.toThrow('connection lost after the commit');
        appends.mockClear();
        // Loaded, not decided on the version before the lost append: one append, no conflict.
        expect(
          await a.handle(def, id, { type: 'Increment', amount: 1 }, { metadata }),
        ).toMatchObject({ version: 3 });
        expect(appends).toHaveBeenCalledTimes(1);
      });
    });
  });
});
