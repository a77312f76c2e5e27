// One contender at one concurrency, in its own process (Emmett changes pg's type parsers for
// the whole process, so contenders never share one). Prints a JSON summary on stdout.
//   node bench/append-worker.mts <contender> <writers> <warmupSeconds> <seconds> <database>
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { EventRegistry, PostgresEventStore, uuidv7 } from '@es/event-store';
import {
  CachedKeyStore,
  PostgresKeyStore,
  Shredder,
  masterKey,
  migrateKeyStore,
} from '@es/privacy';
import { postgresConfig } from '@es/runtime-config';
import { summarize } from './lib.mts';

const [contender, writersArg, warmupArg, secondsArg, database] = process.argv.slice(2);
const writers = Number(writersArg);
const warmupMs = Number(warmupArg) * 1000;
const seconds = Number(secondsArg);

// An order-sized event: ~200 bytes of data, ~150 of metadata.
const data = () => ({
  orderId: randomUUID(),
  customerId: 'customer-0000123456',
  items: [
    { sku: 'SKU-000123', quantity: 2, unitPrice: 1999 },
    { sku: 'SKU-000456', quantity: 1, unitPrice: 550 },
  ],
  total: 4548,
});
// With the customer's contact, as POST /orders takes it and OrderCreated v3 holds it (~150 bytes
// more): one personal field, sealed whole.
const CUSTOMERS = 1_000;
let sequence = 0;
const withContact = (newCustomer: boolean) => {
  const customerId = newCustomer
    ? `customer-${uuidv7()}`
    : `customer-${String(sequence++ % CUSTOMERS).padStart(10, '0')}`;
  return {
    ...data(),
    customerId,
    contact: {
      name: 'Alexandra Montgomery-Fairweather',
      email: 'alexandra.mf@example.invalid',
      shippingAddress: {
        line1: '221B Baker Street',
        city: 'London',
        postalCode: 'NW1 6XE',
        country: 'GB',
      },
    },
  };
};
const metadata = () => ({
  correlationId: randomUUID(),
  causationId: null,
  actor: 'bench',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
});

const pool = new pg.Pool({ ...postgresConfig(database!), max: writers });
/** Pools a contender opens besides `pool`, ended with it. */
const pools: pg.Pool[] = [pool];

async function operation(): Promise<() => Promise<void>> {
  switch (contender ?? '') {
    case 'store-contact':
    case 'store-sealed-bytes':
    case 'store-sealed':
    case 'store-sealed-new': {
      // Group commit, as the services run; the contact in the clear, or declared personal and
      // sealed (returning customers, their keys cached; or a new customer each time, a key made
      // in the vault per append), the vault on a pool of its own as in the services. Or the
      // sealed bytes without the cipher: each customer's contact sealed once before the clock
      // starts and written as it is, undeclared, so that what sealing costs splits into what
      // the larger rows cost and what the cipher does.
      const sealed = contender === 'store-sealed' || contender === 'store-sealed-new';
      const vault = new pg.Pool({ ...postgresConfig(database!), max: 5 });
      pools.push(vault);
      await migrateKeyStore(vault);
      // Keys of an earlier round are under another (random) master key: each round starts empty.
      await vault.query('TRUNCATE data_keys');
      const registry = new EventRegistry([
        {
          type: 'OrderCreated',
          schemaVersion: 1,
          validate: (d) =>
            typeof (d as { orderId?: unknown }).orderId === 'string' ? [] : ['orderId: required'],
          ...(sealed
            ? {
                personal: {
                  subject: 'customerId',
                  fields: ['contact'],
                },
              }
            : {}),
        },
      ]);
      const shredder = new Shredder(
        new CachedKeyStore(new PostgresKeyStore(vault, [masterKey(randomBytes(32))])),
      );
      const store = new PostgresEventStore(pool, registry, {
        groupCommit: true,
        ...(sealed ? { privacy: shredder } : {}),
      });
      const newCustomer = contender === 'store-sealed-new';
      const presealed: Record<string, unknown>[] = [];
      if (contender === 'store-sealed-bytes')
        for (let i = 0; i < CUSTOMERS; i++)
          presealed.push(
            await shredder.seal(withContact(false), {
              subject: 'customerId',
              fields: ['contact'],
            }),
          );
      const next = () => {
        if (presealed.length === 0) return withContact(newCustomer);
        return { ...presealed[sequence++ % CUSTOMERS], orderId: randomUUID() };
      };
      return async () => {
        await store.append(
          { type: 'order', id: uuidv7() },
          [{ type: 'OrderCreated', data: next() }],
          {
            expectedVersion: 'no_stream',
            metadata: metadata(),
            outbox: [{ eventIndex: 0, topic: 'orders.events' }],
          },
        );
      };
    }
    case 'store':
    case 'store-plain':
    case 'store-grouped': {
      const registry = new EventRegistry([
        {
          type: 'OrderCreated',
          schemaVersion: 1,
          validate: (d) =>
            typeof (d as { orderId?: unknown }).orderId === 'string' ? [] : ['orderId: required'],
        },
      ]);
      const store = new PostgresEventStore(pool, registry, {
        groupCommit: contender === 'store-grouped',
        wire: contender === 'store-plain' ? 'pg' : 'text-rows',
      });
      return async () => {
        await store.append(
          { type: 'order', id: uuidv7() },
          [{ type: 'OrderCreated', data: data() }],
          {
            expectedVersion: 'no_stream',
            metadata: metadata(),
            outbox: [{ eventIndex: 0, topic: 'orders.events' }],
          },
        );
      };
    }
    case 'raw-tx':
      return async () => {
        const client = await pool.connect();
        try {
          const id = uuidv7();
          await client.query('BEGIN');
          const { rows } = await client.query<{ global_position: string }>({
            name: 'ev',
            text: `INSERT INTO events (stream_id, version, event_type, data, metadata) VALUES ($1, 1, 'OrderCreated', $2, $3) RETURNING global_position`,
            values: [id, data(), metadata()],
          });
          await client.query({
            name: 'ob',
            text: `INSERT INTO outbox (global_position, topic, key, payload) VALUES ($1, 'orders.events', $2, $3)`,
            values: [rows[0]!.global_position, id, data()],
          });
          await client.query('COMMIT');
        } finally {
          client.release();
        }
      };
    case 'raw-cte':
      return async () => {
        await pool.query({
          name: 'cte',
          text: `WITH e AS (
                   INSERT INTO events (stream_id, version, event_type, data, metadata)
                   VALUES ($1, 1, 'OrderCreated', $2, $3) RETURNING global_position, stream_id, data)
                 INSERT INTO outbox (global_position, topic, key, payload)
                 SELECT global_position, 'orders.events', stream_id, data FROM e`,
          values: [uuidv7(), data(), metadata()],
        });
      };
    case 'emmett': {
      const { getPostgreSQLEventStore } = await import('@event-driven-io/emmett-postgresql');
      const c = postgresConfig(database!);
      const store = getPostgreSQLEventStore(
        `postgres://${c.user}:${encodeURIComponent(c.password ?? '')}@${c.host}:${c.port}/${c.database}`,
        { connectionOptions: { pool } },
      );
      await store.schema.migrate();
      return async () => {
        // 0n: "the stream must not exist", enforced (Emmett's STREAM_DOES_NOT_EXIST is not, in 0.42).
        await store.appendToStream(
          `order-${uuidv7()}`,
          [{ type: 'OrderCreated', data: data(), metadata: metadata() }],
          {
            expectedStreamVersion: 0n,
          },
        );
      };
    }
    default:
      throw new Error(`unknown contender ${contender}`);
  }
}

const op = await operation();
const latencies: number[] = [];
const start = performance.now();
const measureFrom = start + warmupMs;
const end = measureFrom + seconds * 1000;
await Promise.all(
  Array.from({ length: writers }, async () => {
    for (;;) {
      const t0 = performance.now();
      if (t0 >= end) return;
      await op();
      if (t0 >= measureFrom) latencies.push(performance.now() - t0);
    }
  }),
);
await Promise.all(pools.map((p) => p.end()));
process.stdout.write(JSON.stringify({ contender, writers, ...summarize(latencies, seconds) }));
