// Personal fields through the event store on the real PostgreSQL: sealed before they are
// written (every path an append takes), opened only by the reads that ask, before upcasting;
// erased for good with their subject's keys; and a key store away writes nothing.
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import {
  CachedKeyStore,
  ERASED,
  PostgresKeyStore,
  Shredder,
  masterKey,
  migrateKeyStore,
} from '@es/privacy';
import { identifier, versioned, z } from '@es/schema';
import { createTestDatabase, freePort, type TestDatabase } from '@es/testing';
import type { EventMetadata } from '@es/messaging';
import { EventValidationError } from '../store/errors';
import { PostgresEventStore } from '../store/event-store';
import { migrate } from '../store/schema';
import { EventRegistry, type Upcaster } from '../upcasting/registry';

const metadata: EventMetadata = {
  correlationId: 'corr-p',
  causationId: null,
  actor: 'test',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};
const address = z.strictObject({ line1: z.string(), city: z.string() });
const personal = { subject: 'customerId', fields: ['name', 'email', 'address'] };
/** Version 2: `fullName` became `name` (the upcaster below). */
const Registered = versioned(
  'PersonRegistered',
  2,
  z.strictObject({
    customerId: identifier,
    name: z.string().min(1),
    email: z.email(),
    address: address.optional(),
  }),
  { personal },
);
const RegisteredV1 = versioned(
  'PersonRegistered',
  1,
  z.strictObject({ customerId: identifier, fullName: z.string(), email: z.email() }),
  { personal: { subject: 'customerId', fields: ['fullName', 'email'] } },
);
const Moved = versioned('PersonMoved', 1, z.strictObject({ customerId: identifier, address }), {
  personal: { subject: 'customerId', fields: ['address'] },
});
const renamed: Upcaster = {
  type: 'PersonRegistered',
  fromVersion: 1,
  upcast: (data) => {
    const { fullName, ...rest } = data as { fullName: unknown };
    return { data: { ...rest, name: fullName } };
  },
};

const person = {
  customerId: 'c-4k9',
  name: 'Ottoline Vasquez-Brandt',
  email: 'ottoline.vb@example.invalid',
  address: { line1: '17 Quillfeather Lane', city: 'Saltmarrow' },
};
const PLAIN = [person.name, person.email, person.address.line1, 'Saltmarrow'];

describe('personal fields in the event store (real PostgreSQL)', () => {
  let db: TestDatabase;
  let pool: Pool;
  let keys: PostgresKeyStore;
  let shredder: Shredder;
  let store: PostgresEventStore;
  let n = 0;
  const stream = () => ({ type: 'person', id: `p-${++n}` });
  const master = masterKey(randomBytes(32));

  /** Every text the store wrote for a stream: its events' data and its outbox rows. */
  async function written(streamId: string): Promise<string> {
    const { rows } = await pool.query<{ text: string }>(
      `SELECT data::text AS text FROM events WHERE stream_id = $1
       UNION ALL SELECT o.headers::text || coalesce(o.payload::text, '') FROM outbox o
         JOIN events e ON e.global_position = o.event_position WHERE e.stream_id = $1`,
      [streamId],
    );
    return rows.map((r) => r.text).join('\n');
  }

  beforeAll(async () => {
    db = await createTestDatabase('personal');
    pool = db.pool;
    await migrate(pool);
    await migrateKeyStore(pool);
    keys = new PostgresKeyStore(pool, [master]);
    shredder = new Shredder(keys);
    store = new PostgresEventStore(pool, new EventRegistry([Registered, Moved], [renamed]), {
      privacy: shredder,
    });
  });
  afterAll(() => db.drop());

  it('will not write personal fields without a cipher: the store refuses to be made', () => {
    expect(() => new PostgresEventStore(pool, new EventRegistry([Registered, Moved]))).toThrow(
      /PersonRegistered, PersonMoved declare personal fields/,
    );
  });

  it('writes them sealed, hands the caller its own values back, and reads them sealed unless asked', async () => {
    const s = stream();
    const result = await store.append(s, [{ type: 'PersonRegistered', data: person }], {
      expectedVersion: 'no_stream',
      metadata,
      outbox: [{ eventIndex: 0, topic: 'people' }],
    });
    expect(result.events[0]?.data).toEqual(person);
    const text = await written(s.id);
    expect(text).toContain('"sealed"');
    expect(text).toContain(person.customerId); // the subject stays in the clear
    for (const plain of PLAIN) expect(text).not.toContain(plain);

    const [stored] = await store.readStream(s);
    expect(stored?.data).toMatchObject({
      customerId: person.customerId,
      name: { sealed: 'v1', key: `${person.customerId}#1` },
    });
    const [opened] = await store.readStream(s, { open: true });
    expect(opened?.data).toEqual(person);
  });

  it('seals on every append path: appendAll and group commit', async () => {
    const grouped = new PostgresEventStore(pool, new EventRegistry([Registered, Moved]), {
      privacy: shredder,
      groupCommit: true,
    });
    const [a, b, c] = [stream(), stream(), stream()];
    const event = { type: 'PersonRegistered', data: person };
    const options = { expectedVersion: 'no_stream' as const, metadata };
    await Promise.all([grouped.append(a, [event], options), grouped.append(b, [event], options)]);
    await store.appendAll([{ stream: c, events: [event], options }]);
    for (const s of [a, b, c]) {
      const text = await written(s.id);
      for (const plain of PLAIN) expect(text).not.toContain(plain);
      expect((await store.readStream(s, { open: true }))[0]?.data).toEqual(person);
    }
  });

  it('seals at once once the key is in memory: the same sealed form, on the grouped path too', async () => {
    const cached = new PostgresEventStore(pool, new EventRegistry([Registered, Moved]), {
      privacy: new Shredder(new CachedKeyStore(keys)),
      groupCommit: true,
    });
    const someone = { ...person, customerId: 'c-cached' };
    const options = { expectedVersion: 'no_stream' as const, metadata };
    const streams = [stream(), stream(), stream(), stream()];
    // The first makes the key (waits for the vault); the others seal at once, together.
    await cached.append(streams[0]!, [{ type: 'PersonRegistered', data: someone }], options);
    await Promise.all(
      streams
        .slice(1)
        .map((s) => cached.append(s, [{ type: 'PersonRegistered', data: someone }], options)),
    );
    for (const s of streams) {
      const text = await written(s.id);
      expect(text).toContain('c-cached#1');
      for (const plain of PLAIN) expect(text).not.toContain(plain);
      expect((await store.readStream(s, { open: true }))[0]?.data).toEqual(someone);
    }
  });

  it('reads a stream as it was, opened (a temporal read), and reads all opened', async () => {
    const s = stream();
    await store.append(s, [{ type: 'PersonRegistered', data: person }], {
      expectedVersion: 'no_stream',
      metadata,
    });
    const moved = { customerId: person.customerId, address: { line1: '2 Elm', city: 'Oxley' } };
    await store.append(s, [{ type: 'PersonMoved', data: moved }], { expectedVersion: 1, metadata });
    const then = await store.readStream(s, { toVersion: 1, open: true });
    expect(then.map((e) => e.data)).toEqual([person]);
    const now = await store.readStream(s, { open: true });
    expect(now.map((e) => e.data)).toEqual([person, moved]);
    const all = await store.readAll({ transactionId: 0n, position: 0n }, 1000, pool, {
      open: true,
    });
    expect(all.events.filter((e) => e.streamId === s.id).map((e) => e.data)).toEqual([
      person,
      moved,
    ]);
  });

  it('opens before upcasting: an upcaster that moves a personal field sees its value', async () => {
    const s = stream();
    const old = new PostgresEventStore(pool, new EventRegistry([RegisteredV1]), {
      privacy: shredder,
    });
    const v1 = { customerId: person.customerId, fullName: person.name, email: person.email };
    await old.append(s, [{ type: 'PersonRegistered', data: v1 }], {
      expectedVersion: 'no_stream',
      metadata,
    });
    const [read] = await store.readStream(s, { open: true });
    expect(read?.schemaVersion).toBe(2);
    expect(read?.data).toEqual({
      customerId: person.customerId,
      name: person.name,
      email: person.email,
    });
  });

  it('refuses an invalid event before any key is made, naming the field', async () => {
    const s = stream();
    const bad = { ...person, customerId: 'c-never-keyed', email: 'not an email' };
    await expect(
      store.append(s, [{ type: 'PersonRegistered', data: bad }], {
        expectedVersion: 'no_stream',
        metadata,
      }),
    ).rejects.toThrow(EventValidationError);
    await expect(
      store.append(s, [{ type: 'PersonRegistered', data: bad }], {
        expectedVersion: 'no_stream',
        metadata,
      }),
    ).rejects.toThrow(/email/);
    const { rows } = await pool.query("SELECT 1 FROM data_keys WHERE subject = 'c-never-keyed'");
    expect(rows).toHaveLength(0);
  });

  it("erases a subject: every read of its fields gives the marker, another's are untouched", async () => {
    const [s, t] = [stream(), stream()];
    const erasedOne = { ...person, customerId: 'c-erase-me' };
    const kept = { ...person, customerId: 'c-keep-me' };
    const cached = new Shredder(new CachedKeyStore(keys));
    const reader = new PostgresEventStore(pool, new EventRegistry([Registered, Moved]), {
      privacy: cached,
    });
    for (const [at, data] of [
      [s, erasedOne],
      [t, kept],
    ] as const)
      await reader.append(at, [{ type: 'PersonRegistered', data }], {
        expectedVersion: 'no_stream',
        metadata,
      });
    const before = await written(s.id);
    await new CachedKeyStore(keys).erase('c-erase-me');
    cached.forget('c-erase-me'); // what a DataSubjectErased tells another process
    const [read] = await reader.readStream(s, { open: true });
    expect(read?.data).toEqual({
      customerId: 'c-erase-me',
      name: ERASED,
      email: ERASED,
      address: ERASED,
    });
    expect(await written(s.id)).toBe(before); // history not rewritten: its key is gone
    expect((await reader.readStream(t, { open: true }))[0]?.data).toEqual(kept);
  });

  it('with the key store away, writes nothing and fails the reads that open, not the others', async () => {
    const away = new Pool({
      host: '127.0.0.1',
      port: await freePort(),
      connectionTimeoutMillis: 500,
    });
    away.on('error', () => undefined);
    const lost = new PostgresEventStore(pool, new EventRegistry([Registered, Moved]), {
      privacy: new Shredder(new PostgresKeyStore(away, [master])),
    });
    try {
      const s = stream();
      await expect(
        lost.append(s, [{ type: 'PersonRegistered', data: { ...person, customerId: 'c-away' } }], {
          expectedVersion: 'no_stream',
          metadata,
        }),
      ).rejects.toThrow(/ECONNREFUSED/);
      expect(await store.currentVersion(s)).toBe(0);

      const t = stream();
      await store.append(t, [{ type: 'PersonRegistered', data: person }], {
        expectedVersion: 'no_stream',
        metadata,
      });
      await expect(lost.readStream(t, { open: true })).rejects.toThrow(/ECONNREFUSED/);
      expect(await lost.readStream(t)).toHaveLength(1);
    } finally {
      await away.end();
    }
  });
});
