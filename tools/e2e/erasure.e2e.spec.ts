// The right to erasure, proven by a search (docs/privacy.md): a person with a distinctive name,
// email and address places orders (one cancelled), names themself on their account, and has a
// message of theirs dead-lettered; then every service database, every Kafka topic (dead letters
// included), every read-model collection and every service log is dumped and searched for them.
// Before the erasure their data is nowhere in the clear (sealed wherever it was copied; the HTTP
// answers open it); after, it is nowhere at all: no key is left that opens what remains, every
// read gives { erased: true }, and a rebuild of the read models gives what they hold live.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Pool } from 'pg';
import {
  CachedKeyStore,
  PostgresKeyStore,
  Shredder,
  isSealed,
  masterKey,
  type Sealed,
} from '@es/privacy';
import { mongoConfig, postgresConfig, privacyConfig } from '@es/runtime-config';
import {
  SERVICE_DATABASES,
  dumpKafkaTopics,
  dumpMongoDatabase,
  dumpPostgresDatabase,
  eventually,
  identity,
  kafkaAs,
  loadStackEnv,
  readSideCaughtUp,
  startServices,
  type RunningService,
} from '@es/testing';
import { systemDriver } from './system-driver';

describe('erasure: a person forgotten in every store (real processes, real engines)', () => {
  let services: RunningService[] = [];
  const url = (name: string, path = '') => {
    const found = services.find((s) => s.name === name);
    if (!found) throw new Error(`${name} is not running`);
    return found.url(path);
  };
  const { client, ok, restock, deposit, order } = systemDriver((name) => url(name));
  const run = Date.now().toString(36);
  const customerId = `c-${run}-${randomUUID().slice(0, 8)}`; // opaque: it names nobody
  const person = {
    name: `Wilhelmina Quartermaine-${run}`,
    email: `wq.${run}@forget-me.invalid`,
    shippingAddress: {
      line1: `${run} Vellichor Crescent`,
      city: `Oxwhistle${run}`,
      postalCode: 'ZZ9 9ZZ',
      country: 'GB',
    },
  };
  const PLAIN = [
    person.name,
    person.email,
    person.shippingAddress.line1,
    person.shippingAddress.city,
  ];
  const sku = `SKU-ERASE-${run}`;
  const orders: string[] = [];
  let vault: Pool | undefined;

  /** Every store the system has, as text: databases, topics, read models, logs. */
  async function everything(): Promise<Record<string, string>> {
    const dumps: Record<string, string> = {};
    for (const database of [...Object.values(SERVICE_DATABASES), 'vault'])
      dumps[`postgres ${database}`] = await dumpPostgresDatabase(database);
    dumps['kafka'] = dumpKafkaTopics();
    dumps['read models'] = await dumpMongoDatabase(mongoConfig().database);
    for (const s of services) dumps[`log ${s.name}`] = readFileSync(s.logFile, 'utf8');
    return dumps;
  }
  function expectNowhere(dumps: Record<string, string>) {
    for (const [where, text] of Object.entries(dumps))
      for (const value of PLAIN)
        expect({ where, found: text.includes(value) }).toEqual({ where, found: false });
  }
  const asCustomer = () => identity.headers({ customer: customerId });
  const placeOne = async () => {
    const placed = await client('order-service').POST('/orders', {
      params: { header: { 'Idempotency-Key': randomUUID() } },
      headers: await asCustomer(),
      body: { customerId, items: [{ sku, quantity: 1, unitPrice: 100 }], ...person },
    });
    expect(placed.response.status).toBe(202);
    return placed.data!.orderId;
  };
  const account = async () =>
    ok(
      await client('payment-service').GET('/accounts/{customerId}', {
        params: { path: { customerId } },
      }),
      `account ${customerId}`,
    );

  beforeAll(async () => {
    loadStackEnv();
    // Keys kept in memory for a second: another service forgets an erased key that soon.
    services = await startServices(undefined, {
      env: { CONSISTENCY_WAIT_MS: '20000', PRIVACY_KEY_CACHE_MS: '1000' },
    });
    vault = new Pool({ ...postgresConfig('vault'), max: 1 });
    await readSideCaughtUp(url('projection-service'));
  }, 180_000);
  afterAll(async () => {
    await vault?.end();
    await Promise.all(services.map((s) => s.stop()));
  });

  it('leaves their data nowhere in the clear, then nowhere at all, and a rebuild agrees', async () => {
    const t0 = Date.now();
    const lap = (what: string) => {
      console.log(`erasure: ${what} at ${Date.now() - t0} ms`);
    };
    // Their account, named; stock; two orders confirmed; one cancelled (refund, stock back).
    const named = await client('payment-service').POST('/accounts/{customerId}/holder', {
      params: { path: { customerId }, header: { 'Idempotency-Key': randomUUID() } },
      headers: await asCustomer(),
      body: { name: person.name, email: person.email },
    });
    expect(named.response.status).toBe(202);
    await deposit(customerId, 10_000);
    await restock(sku, 10);
    orders.push(await placeOne(), await placeOne());
    await eventually(
      async () => {
        for (const id of orders) expect((await order(id)).status).toBe('CONFIRMED');
      },
      { timeoutMs: 60_000 },
    );
    const cancelled = await client('order-service').POST('/orders/{id}/cancel', {
      params: { path: { id: orders[0]! }, header: { 'Idempotency-Key': randomUUID() } },
      headers: await asCustomer(),
      body: { reason: 'changed my mind' },
    });
    expect(cancelled.response.status).toBe(202);
    await eventually(
      async () => {
        expect((await order(orders[0]!)).status).toBe('CANCELLED');
      },
      { timeoutMs: 60_000 },
    );

    // A message of theirs dead-lettered: their OrderCreated again, with a total no consumer
    // takes (the saga and the projections each give it up to their dead letters).
    const dumped = dumpKafkaTopics({ topics: ['orders.events'] });
    const created = dumped
      .split('\n')
      .map((line) => line.slice(line.indexOf(' ', line.indexOf(' ') + 1) + 1))
      .find((value) => value.includes('"OrderCreated"') && value.includes(orders[1]!));
    expect(created).toBeDefined();
    const poison = JSON.parse(created!) as { eventId: string; data: Record<string, unknown> };
    poison.eventId = randomUUID();
    poison.data['total'] = -1;
    const producer = kafkaAs('es-tools').producer();
    await producer.connect();
    await producer.send({
      topic: 'orders.events',
      messages: [
        {
          key: orders[1]!,
          value: JSON.stringify(poison),
          headers: { 'message-id': poison.eventId, 'event-type': 'OrderCreated' },
        },
      ],
    });
    await producer.disconnect();
    await eventually(
      () => {
        expect(dumpKafkaTopics({ topics: ['orders.events.dlq'] })).toContain(poison.eventId);
        return Promise.resolve();
      },
      { timeoutMs: 60_000 },
    );
    await readSideCaughtUp(url('projection-service'));

    lap('orders, cancellation and dead letter done');
    // Before: the answers open it, for whoever may see it...
    const [details, summary] = [await order(orders[1]!), await account()];
    expect(details).toMatchObject({ contact: person });
    expect(summary).toMatchObject({ holder: { name: person.name, email: person.email } });
    // ...and every store holds it sealed under their key, nowhere in the clear.
    const before = await everything();
    expectNowhere(before);
    // Sealed under their first key: its id is the customer's (opaque) and the generation.
    const sealedUnder = `${customerId}#1`;
    for (const where of ['postgres orders', 'postgres payments', 'kafka', 'read models'])
      expect({ where, sealed: before[where]!.includes(sealedUnder) }).toEqual({
        where,
        sealed: true,
      });

    lap('searched before');
    // The erasure: an operator's act.
    const erased = await client('payment-service').POST('/customers/{customerId}/erase', {
      params: { path: { customerId }, header: { 'Idempotency-Key': randomUUID() } },
      body: {},
    });
    expect(erased.response.status).toBe(202);
    expect(erased.data).toMatchObject({ customerId, keysErased: 1 });

    // Every read gives the marker: the read models, the audit trail, in every service.
    const gone = { erased: true };
    await eventually(
      async () => {
        expect((await order(orders[1]!)).contact).toEqual({
          name: gone,
          email: gone,
          shippingAddress: gone,
        });
        expect((await account()).holder).toEqual({ name: gone, email: gone });
      },
      { timeoutMs: 30_000 },
    );
    const trail = ok(
      await client('order-service').GET('/orders/{id}/events', {
        params: { path: { id: orders[1]! } },
      }),
      'audit trail',
    );
    expect(trail.events[0]?.data).toMatchObject({ customerId, contact: gone });
    // The orders, payments and balance stay.
    expect(await order(orders[1]!)).toMatchObject({ status: 'CONFIRMED', customerId });

    // After: nothing in the clear anywhere, and no key left that opens what remains.
    await readSideCaughtUp(url('projection-service'));
    const after = await everything();
    expectNowhere(after);
    const { rows: keys } = await vault!.query(
      'SELECT generation FROM data_keys WHERE subject = $1 AND wrapped IS NOT NULL',
      [customerId],
    );
    expect(keys).toEqual([]);
    // Every sealed value of theirs the topics hold (jsonb orders an object's keys its own way).
    const values = [...after['kafka']!.matchAll(/\{[^{}]*"sealed"[^{}]*\}/g)]
      .map((m) => JSON.parse(m[0]) as unknown)
      .filter((v): v is Sealed => isSealed(v) && v.key.startsWith(`${customerId}#`));
    expect(values.length).toBeGreaterThan(0);
    const fresh = new Shredder(
      new CachedKeyStore(new PostgresKeyStore(vault!, privacyConfig().masterKeys.map(masterKey))),
    );
    expect(await fresh.open({ name: values[0] })).toEqual({ name: gone });
    // The record of the act names nobody.
    expect(after['kafka']).toContain(`"type":"DataSubjectErased"`);

    lap('searched after');
    // A rebuild after the erasure gives what the read models hold live.
    const live = { order: await order(orders[1]!), account: await account() };
    const operator = await identity.headers();
    const REBUILT = ['order-details', 'customer-account'];
    const generations = async () => {
      const status = await fetch(url('projection-service', '/projections'), {
        headers: operator,
      });
      const body = (await status.json()) as {
        projections: { name: string; rebuilding?: unknown; active: { generation: number } }[];
      };
      return body.projections.filter((p) => REBUILT.includes(p.name));
    };
    const first = new Map((await generations()).map((p) => [p.name, p.active.generation]));
    for (const name of REBUILT) {
      const rebuilt = await fetch(url('projection-service', `/projections/${name}/rebuild`), {
        method: 'POST',
        headers: {
          ...operator,
          'content-type': 'application/json',
          'idempotency-key': randomUUID(),
        },
        body: '{}',
      });
      expect(rebuilt.status).toBe(202);
    }
    await eventually(
      async () => {
        for (const p of await generations()) {
          expect(p.rebuilding).toBeUndefined();
          expect(p.active.generation).toBeGreaterThan(first.get(p.name) ?? 0);
        }
      },
      { timeoutMs: 120_000 },
    );
    expect({ order: await order(orders[1]!), account: await account() }).toEqual(live);
    lap('rebuilt');
  }, 420_000);
});
