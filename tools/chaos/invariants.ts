// The invariant checker: after a fault run, what must hold, read from the engines themselves
// (the event stores in PostgreSQL, the topics in Kafka, the read models over the MongoDB wire
// protocol), never from the services' answers. Each check returns its violations; a run passes
// with none. The states are folded from the stored events with the domain's own deciders.
import type { Kafka } from 'kafkajs';
import { MongoClient } from 'mongodb';
import type { Pool } from 'pg';
import { fold } from '@es/decider';
import { stockItemDecider, type StockItemState } from '@es/inventory-domain';
import { orderDecider, type OrderState } from '@es/order-domain';
import { accountDecider, type AccountState } from '@es/payment-domain';
import { mongoConfig } from '@es/runtime-config';
import { readTopic } from '@es/messaging';
import type { Ledger } from './load';
import type { DatabaseName } from '@es/testing';
import { DATABASES, type ChaosSystem } from './system';

export interface Check {
  readonly name: string;
  /** What was checked, in numbers (shown even when it passes). */
  readonly checked: string;
  readonly violations: readonly string[];
}

interface EventRow {
  stream_id: string;
  stream_version: number;
  event_type: string;
  data: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const first = (items: readonly string[], n = 10) =>
  items.length > n ? [...items.slice(0, n), `... and ${items.length - n} more`] : [...items];

async function streams(pool: Pool, type: string): Promise<Map<string, EventRow[]>> {
  const { rows } = await pool.query<EventRow>(
    `SELECT stream_id, stream_version, event_type, data FROM events
     WHERE stream_type = $1 ORDER BY stream_id, stream_version`,
    [type],
  );
  const byStream = new Map<string, EventRow[]>();
  for (const row of rows) {
    const list = byStream.get(row.stream_id) ?? [];
    list.push(row);
    byStream.set(row.stream_id, list);
  }
  return byStream;
}

const asEvents = (rows: readonly EventRow[]) =>
  rows.map((r) => ({ type: r.event_type, data: r.data }));

/** The store's view of the run: every stream folded with its decider. */
export interface StoreView {
  readonly orders: Map<string, { state: OrderState; version: number; rows: EventRow[] }>;
  readonly stock: Map<string, { state: StockItemState; version: number; rows: EventRow[] }>;
  readonly accounts: Map<string, { state: AccountState; version: number; rows: EventRow[] }>;
}

export async function readStores(system: ChaosSystem): Promise<StoreView> {
  const folded = <S>(rows: Map<string, EventRow[]>, evolve: (rows: EventRow[]) => S) =>
    new Map(
      [...rows].map(([id, list]) => [
        id,
        { state: evolve(list), version: list.at(-1)?.stream_version ?? 0, rows: list },
      ]),
    );
  const orders = folded(await streams(system.pool('orders'), 'order'), (rows) =>
    fold(orderDecider, orderDecider.initialState(), asEvents(rows) as never),
  );
  const stock = folded(await streams(system.pool('inventory'), 'stock-item'), (rows) =>
    fold(stockItemDecider, stockItemDecider.initialState(), asEvents(rows) as never),
  );
  const accounts = folded(await streams(system.pool('payments'), 'account'), (rows) =>
    fold(accountDecider, accountDecider.initialState(), asEvents(rows) as never),
  );
  return { orders, stock, accounts };
}

/** Every acknowledged command left its events: orders, restocks, deposits, cancellations. */
export function acknowledgedCommandsRecorded(ledger: Ledger, view: StoreView): Check {
  const violations: string[] = [];
  for (const orderId of ledger.orders.keys())
    if (!view.orders.get(orderId)?.rows.some((r) => r.event_type === 'OrderCreated'))
      violations.push(`order ${orderId} was acknowledged but has no OrderCreated`);
  for (const orderId of ledger.cancelled)
    if (!view.orders.get(orderId)?.rows.some((r) => r.event_type === 'OrderCancellationRequested'))
      violations.push(`the cancellation of ${orderId} was acknowledged but not recorded`);
  for (const [sku, units] of ledger.restocked) {
    const recorded = (view.stock.get(sku)?.rows ?? [])
      .filter((r) => r.event_type === 'StockRestocked')
      .reduce((sum, r) => sum + Number(r.data['quantity']), 0);
    if (recorded !== units)
      violations.push(`${sku}: ${units} units restocked, ${recorded} recorded`);
  }
  let deposits = 0;
  for (const [customerId, amount] of ledger.deposited) {
    deposits++;
    const recorded = (view.accounts.get(customerId)?.rows ?? [])
      .filter((r) => r.event_type === 'FundsDeposited')
      .reduce((sum, r) => sum + Number(r.data['amount']), 0);
    if (recorded !== amount)
      violations.push(`${customerId}: ${amount} deposited, ${recorded} recorded`);
  }
  return {
    name: 'every acknowledged command has its events',
    checked: `${ledger.orders.size} orders, ${ledger.cancelled.size} cancellations, ${ledger.restocked.size} SKUs' restocks, ${deposits} accounts' deposits`,
    violations: first(violations),
  };
}

/** Every acknowledged order has its verdict; every acknowledged cancellation ended CANCELLED. */
export function everyOrderDecided(ledger: Ledger, view: StoreView): Check {
  const violations: string[] = [];
  const counts = new Map<string, number>();
  for (const orderId of ledger.orders.keys()) {
    const status = view.orders.get(orderId)?.state.status ?? 'NONE';
    counts.set(status, (counts.get(status) ?? 0) + 1);
    if (status === 'PENDING' || status === 'NONE') violations.push(`order ${orderId} is ${status}`);
    if (status === 'CONFIRMED' && ledger.cancelled.has(orderId))
      violations.push(`order ${orderId}'s cancellation was acknowledged, it is still CONFIRMED`);
  }
  return {
    name: 'every acknowledged order has a verdict, every cancellation completed',
    checked: [...counts].map(([status, n]) => `${n} ${status}`).join(', '),
    violations: first(violations),
  };
}

const confirmed = (view: StoreView) =>
  [...view.orders.values()].flatMap((o) => (o.state.status === 'CONFIRMED' ? [o.state.order] : []));

/** Per SKU: on hand = restocked - the confirmed orders' units; nothing left reserved. */
export function stockConserved(ledger: Ledger, view: StoreView): Check {
  const sold = new Map<string, number>();
  for (const order of confirmed(view))
    for (const line of order.items) sold.set(line.sku, (sold.get(line.sku) ?? 0) + line.quantity);
  const violations: string[] = [];
  for (const sku of ledger.skus) {
    const stream = view.stock.get(sku);
    if (!stream || stream.state.status !== 'STOCKED') {
      violations.push(`${sku} has no stock item`);
      continue;
    }
    const expected = (ledger.restocked.get(sku) ?? 0) - (sold.get(sku) ?? 0);
    if (stream.state.onHand !== expected)
      violations.push(`${sku}: on hand ${stream.state.onHand}, expected ${expected}`);
    if (stream.state.reserved !== 0)
      violations.push(`${sku}: ${stream.state.reserved} units still reserved`);
  }
  return {
    name: 'stock conserved per SKU, no reservation left',
    checked: `${ledger.skus.length} SKUs, ${[...sold.values()].reduce((a, b) => a + b, 0)} units sold`,
    violations: first(violations),
  };
}

/** Per customer: balance = deposits - the confirmed orders' totals; nothing left held. */
export function moneyConserved(ledger: Ledger, view: StoreView): Check {
  const spent = new Map<string, number>();
  for (const order of confirmed(view))
    spent.set(order.customerId, (spent.get(order.customerId) ?? 0) + order.total);
  const violations: string[] = [];
  for (const [customerId, deposited] of ledger.deposited) {
    const account = view.accounts.get(customerId)?.state;
    if (!account || account.status !== 'OPEN') {
      violations.push(`${customerId} has no account`);
      continue;
    }
    const expected = deposited - (spent.get(customerId) ?? 0);
    if (account.balance !== expected)
      violations.push(`${customerId}: balance ${account.balance}, expected ${expected}`);
    if (account.reserved !== 0) violations.push(`${customerId}: ${account.reserved} still held`);
  }
  return {
    name: 'money conserved per customer, no hold left',
    checked: `${ledger.deposited.size} accounts, ${[...spent.values()].reduce((a, b) => a + b, 0)} spent`,
    violations: first(violations),
  };
}

/** No effect twice: one verdict per order, one reservation/commit/return per order and SKU, ... */
export async function noDuplicateEffect(system: ChaosSystem): Promise<Check> {
  const queries: [DatabaseName, string, string][] = [
    [
      'orders',
      'verdicts or cancellations per order',
      `SELECT stream_id AS what, event_type, count(*) AS n FROM events
       WHERE event_type IN ('OrderCreated','OrderApproved','OrderRejected','OrderCancellationRequested','OrderCancelled')
       GROUP BY 1, 2 HAVING count(*) > 1`,
    ],
    [
      'inventory',
      'stock effects per order and SKU',
      `SELECT stream_id || ' ' || (data->>'orderId') AS what, event_type, count(*) AS n FROM events
       WHERE stream_type = 'stock-item' AND event_type <> 'StockRestocked'
       GROUP BY 1, 2 HAVING count(*) > 1`,
    ],
    [
      'payments',
      'money effects per payment',
      `SELECT coalesce(data->>'paymentId', stream_id) AS what, event_type, count(*) AS n FROM events
       WHERE event_type <> 'FundsDeposited' GROUP BY 1, 2 HAVING count(*) > 1`,
    ],
  ];
  const violations: string[] = [];
  for (const [database, what, sql] of queries) {
    const { rows } = await system
      .pool(database)
      .query<{ what: string; event_type: string; n: string }>(sql);
    for (const r of rows) violations.push(`${what}: ${r.event_type} ${r.n} times for ${r.what}`);
  }
  return {
    name: 'no duplicate effect',
    checked: 'verdicts per order, stock effects per order and SKU, money effects per payment',
    violations: first(violations),
  };
}

/** Every saga COMPLETED or COMPENSATED, or PARKED with its problem (listed, not a violation). */
export async function sagasEnded(system: ChaosSystem): Promise<Check & { parked: string[] }> {
  const { rows } = await system
    .pool('sagas')
    .query<{ stream_type: string; status: string; n: string }>(
      `SELECT stream_type, status, count(*) AS n FROM stream_summaries GROUP BY 1, 2 ORDER BY 1, 2`,
    );
  const { rows: parked } = await system
    .pool('sagas')
    .query<{ stream_type: string; stream_id: string }>(
      `SELECT stream_type, stream_id FROM stream_summaries WHERE status = 'PARKED'`,
    );
  const violations = rows
    .filter((r) => !['COMPLETED', 'COMPENSATED', 'PARKED'].includes(r.status))
    .map((r) => `${r.n} ${r.stream_type} sagas ${r.status}`);
  return {
    name: 'every saga ended (or parked with a reason)',
    checked: rows.map((r) => `${r.n} ${r.stream_type} ${r.status}`).join(', '),
    violations,
    parked: parked.map((p) => `${p.stream_type}/${p.stream_id}`),
  };
}

/** Every message id a topic holds now. */
async function messageIds(kafka: Kafka, topic: string): Promise<Set<string>> {
  const ids = new Set<string>();
  await readTopic(kafka, topic, (m) => {
    const id = m.headers?.['message-id']?.toString();
    if (id) ids.add(id);
  });
  return ids;
}

/** Every outbox row of every store (events, saga commands, dead-letter notices) is in Kafka. */
export async function everythingPublished(system: ChaosSystem): Promise<Check> {
  const kafka = system.kafka.client('chaos-check');
  let missing: string[] = [];
  let total = 0;
  for (let round = 0; round < 6; round++) {
    missing = [];
    total = 0;
    const expected = new Map<string, string[]>();
    for (const database of Object.values(DATABASES)) {
      const { rows } = await system
        .pool(database)
        .query<{ topic: string; message_id: string }>('SELECT topic, message_id FROM outbox');
      for (const r of rows) {
        total++;
        expected.set(r.topic, [...(expected.get(r.topic) ?? []), r.message_id]);
      }
    }
    for (const [topic, ids] of expected) {
      const found = await messageIds(kafka, topic);
      for (const id of ids)
        if (!found.has(id)) missing.push(`${topic}: message ${id} is not in Kafka`);
    }
    if (missing.length === 0) break;
    await sleep(10_000); // a relay still catching up after the last fault
  }
  return {
    name: 'every stored message reached Kafka',
    checked: `${total} outbox rows in ${Object.keys(DATABASES).length} stores`,
    violations: first(missing),
  };
}

/**
 * Only the poison was parked: every dead letter in every store is a poison message, and every
 * poison message was parked by a consumer (in its store, or on `<topic>.dlq` for the
 * projections, which have no PostgreSQL).
 */
export async function onlyPoisonParked(
  system: ChaosSystem,
  poisoned: Map<string, string>,
): Promise<Check> {
  const violations: string[] = [];
  const parkedKeys = new Set<string>();
  let parked = 0;
  for (const database of Object.values(DATABASES)) {
    const { rows } = await system.pool(database).query<{
      consumer: string;
      topic: string;
      message_key: string;
      cause: string;
      error: string | null;
    }>('SELECT consumer, topic, message_key, cause, error FROM dead_letters');
    for (const r of rows) {
      parked++;
      parkedKeys.add(`${r.topic} ${r.message_key}`);
      if (poisoned.get(r.topic) !== r.message_key)
        violations.push(
          `${database}: ${r.consumer} parked ${r.topic}/${r.message_key} (${r.cause}: ${r.error ?? ''})`,
        );
    }
  }
  const kafka = system.kafka.client('chaos-check');
  const admin = kafka.admin();
  await admin.connect();
  const topics = new Set(await admin.listTopics());
  await admin.disconnect();
  for (const [topic, key] of poisoned) {
    if (parkedKeys.has(`${topic} ${key}`)) continue;
    const dlq = `${topic}.dlq`;
    const onDlq = topics.has(dlq) && (await dlqKeys(kafka, dlq)).has(key);
    if (!onDlq) violations.push(`the poison message on ${topic} was neither parked nor on ${dlq}`);
  }
  return {
    name: 'only the poison messages were dead-lettered',
    checked: `${parked} parked letters, ${poisoned.size} poisoned topics`,
    violations: first(violations),
  };
}

async function dlqKeys(kafka: Kafka, topic: string): Promise<Set<string>> {
  const keys = new Set<string>();
  await readTopic(
    kafka,
    topic,
    (m) => {
      if (m.key) keys.add(m.key.toString());
    },
    { timeoutMs: 30_000 },
  );
  return keys;
}

/** The read models equal the stores: each document's state and version, as folded from events. */
export async function readModelsMatchStores(
  system: ChaosSystem,
  ledger: Ledger,
  view: StoreView,
): Promise<Check> {
  const mongo = new MongoClient(mongoConfig().url, { serverSelectionTimeoutMS: 10_000 });
  const violations: string[] = [];
  let compared = 0;
  try {
    const db = mongo.db(system.mongoDatabase);
    const active = async (name: string) => {
      const entry = await db
        .collection<{ _id: string; active: { collection: string } }>('projections')
        .findOne({ _id: name });
      if (!entry) throw new Error(`no projection ${name} in ${system.mongoDatabase}`);
      return db.collection(entry.active.collection);
    };
    /** Each id's document against the fields the store folds to (undefined: no stream). */
    const compare = async (
      projection: string,
      field: string,
      expected: ReadonlyMap<string, Readonly<Record<string, unknown>> | undefined>,
    ) => {
      const collection = await active(projection);
      for (const [id, fields] of expected) {
        const doc = await collection.findOne({ [field]: id });
        compared++;
        if (!fields || !doc) {
          violations.push(`${projection} ${id}: ${doc ? 'no stream' : 'no document'}`);
          continue;
        }
        const differ = Object.entries(fields).filter(([name, value]) => doc[name] !== value);
        if (differ.length > 0)
          violations.push(
            `${projection} ${id}: ${differ.map(([name, value]) => `${name} ${String(doc[name])}/${String(value)}`).join(', ')} (document/store)`,
          );
      }
    };
    await compare(
      'stock-availability',
      'sku',
      new Map(
        ledger.skus.map((sku) => {
          const item = view.stock.get(sku);
          return [
            sku,
            item?.state.status === 'STOCKED'
              ? { onHand: item.state.onHand, reserved: item.state.reserved, version: item.version }
              : undefined,
          ];
        }),
      ),
    );
    await compare(
      'customer-account',
      'customerId',
      new Map(
        [...ledger.deposited.keys()].map((customerId) => {
          const account = view.accounts.get(customerId);
          return [
            customerId,
            account?.state.status === 'OPEN'
              ? {
                  balance: account.state.balance,
                  reserved: account.state.reserved,
                  version: account.version,
                }
              : undefined,
          ];
        }),
      ),
    );
    const details = await active('order-details');
    const customerOrders = await active('customer-orders');
    const byId = new Map((await details.find({}).toArray()).map((d) => [String(d['orderId']), d]));
    const listed = new Map(
      (await customerOrders.find({}).toArray()).map((d) => [String(d['orderId']), d]),
    );
    for (const [orderId, order] of view.orders) {
      compared += 2;
      const doc = byId.get(orderId);
      if (!doc || doc['status'] !== order.state.status || doc['version'] !== order.version)
        violations.push(
          `order-details ${orderId}: ${doc ? `${String(doc['status'])} v${String(doc['version'])}` : 'no document'}, store ${order.state.status} v${order.version}`,
        );
      const entry = listed.get(orderId);
      if (!entry || entry['status'] !== order.state.status)
        violations.push(
          `customer-orders ${orderId}: ${entry ? String(entry['status']) : 'no document'}, store ${order.state.status}`,
        );
    }
  } finally {
    await mongo.close();
  }
  return {
    name: 'every read model equals the stores',
    checked: `${compared} documents (stock-availability, customer-account, order-details, customer-orders)`,
    violations: first(violations),
  };
}

/** Every command was answered, and no answer was a 500. */
export function httpAnswers(ledger: Ledger): Check {
  return {
    name: 'every command answered, never a 500',
    checked: `refusals: ${[...ledger.refusals].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'}`,
    violations: first([...ledger.unacknowledged, ...ledger.serverErrors]),
  };
}
