// The order saga under a fixed offered load, everything on this machine: the order, inventory
// and payment services and the orchestrator as real processes (as `npm start` runs them), on
// the real engines. Orders are POSTed open-loop at BENCH_RATE per second for BENCH_SECONDS;
// one in ten is for a customer without funds, so it takes the compensation path (reserve,
// declined, release, reject). Latencies are read from the services' own event stores (one
// Postgres clock): OrderCreated -> OrderApproved (CONFIRMED), OrderCreated -> OrderRejected,
// and OrderCreated -> the saga's end (stock committed, payment captured).
// BENCH_CANCEL_SHARE of the orders (0.1 by default; 0 for none) are cancelled by their customer
// as soon as their saga has completed, while the load goes on: each starts an order
// cancellation (refund, return of the stock, CANCELLED), timed from OrderCancellationRequested
// to OrderCancelled.
// Orders spread over BENCH_SKUS stock items (100 by default); BENCH_SKUS=1 puts every
// reservation on one hot stream. Before the load, the bench waits until the services' consumer
// groups have nothing left from an earlier run, so it times only its own orders.
import { randomUUID } from 'node:crypto';
import { logLevel } from 'kafkajs';
import pg from 'pg';
import { serviceClient, type ServiceName } from '@es/api-client';
import { consumerLag } from '@es/messaging';
import { kafkaConfig, postgresConfig } from '@es/runtime-config';
import { Identity, SERVICES, contactFor, kafkaFor, startServices, withIdentity } from '@es/testing';
import { writeFileSync } from 'node:fs';
import {
  cpuBetween,
  cpuSample,
  machine,
  ms,
  percentile,
  sagaLoad,
  stepOf,
  writeSection,
  type Roles,
  type SagaSummary,
} from './lib.mts';

const { rate, seconds, skuCount, warmupSeconds, cancelShare } = sagaLoad();
const declinedShare = 0.1;
const cancelEvery = cancelShare > 0 ? Math.round(1 / cancelShare) : 0;
const run = Date.now().toString(36);
// Set by bench/saga-vs-temporal.mts: the figures and the CPU used are written there as JSON,
// and docs/benchmarks.md is left alone.
const summaryFile = process.env['BENCH_SUMMARY_FILE'];
/** This side's processes, for the CPU they use while the timed orders run. */
const SYSTEM_ROLES: Roles = {
  services: (cmdline) => /apps\/[a-z-]+\/dist\/main\.js/.test(cmdline),
  postgres: (_, comm) => comm === 'postgres',
  kafka: (cmdline) => cmdline.includes('kafka.Kafka'),
  load: (cmdline) => cmdline.includes('bench/saga.mts'),
};

const services = await startServices(SERVICES.filter((s) => s.name !== 'projection-service'));
const url = (name: string, path: string) => {
  const service = services.find((s) => s.name === name);
  if (!service) throw new Error(`${name} is not running`);
  return service.url(path);
};
// The typed client generated from the system's OpenAPI document (libs/api-client), each request
// with a token of the benchmarks' client: its own (staff) for stock and funds, its customers'
// for their orders. Tokens are cached, so the measured path is the services' verification.
const bench = new Identity({ client: 'es-bench' });
const client = <S extends ServiceName>(name: S) =>
  withIdentity(serviceClient(name, url(name, '')), bench);
/** Whose each order is: its cancellation is its customer's act. */
const customers = new Map<string, string>();
const accepted = <T,>(r: { data?: T; response: Response }, what: string): T => {
  if (r.response.status !== 202 || r.data === undefined)
    throw new Error(`${what}: ${r.response.status}`);
  return r.data;
};

/** Until every group has consumed all its topics hold (an earlier run's backlog included). */
async function idle(timeoutMs = 600_000): Promise<void> {
  const admin = kafkaFor(kafkaConfig('bench-saga'), logLevel.NOTHING).admin();
  await admin.connect();
  try {
    const groups = [
      { groupId: 'order-service', topics: ['orders.commands'] },
      { groupId: 'inventory-service', topics: ['inventory.commands'] },
      { groupId: 'payment-service', topics: ['payments.commands'] },
      { groupId: 'saga-orchestrator', topics: ['orders.events', 'sagas.replies'] },
    ];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let behind = 0;
      for (const group of groups) for (const p of await consumerLag(admin, group)) behind += p.lag;
      if (behind === 0) return;
      if (Date.now() > deadline) throw new Error(`consumers still ${behind} messages behind`);
      console.log(`waiting for an earlier run's ${behind} messages to be consumed`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  } finally {
    await admin.disconnect();
  }
}

interface Hop {
  readonly from: string;
  readonly to: string;
  /** Sorted, in ms. */
  readonly gaps: number[];
  /** Where the step usually comes in an order's timeline. */
  readonly position: number;
}

/**
 * The confirmed orders' timelines: every event carrying an order's correlation id, in the
 * order, saga, inventory and payment stores (one Postgres clock), sorted by time; each step
 * (an event type after another) with the gaps measured, those at least half the orders take.
 */
async function timeline(orders: pg.Pool, sagas: pg.Pool, orderIds: string[]): Promise<Hop[]> {
  const { rows: confirmed } = await orders.query<{ correlation: string }>(
    `SELECT metadata->>'correlationId' AS correlation FROM events
      WHERE stream_type = 'order' AND stream_id = ANY($1) AND event_type = 'OrderApproved'`,
    [orderIds],
  );
  const correlations = confirmed.map((r) => r.correlation);
  const stores = { orders, sagas } as Record<string, pg.Pool>;
  const others = ['inventory', 'payments'].map(
    (db) => [db, new pg.Pool({ ...postgresConfig(db), max: 1 })] as const,
  );
  for (const [db, pool] of others) stores[db] = pool;
  const events = new Map<string, { label: string; at: number }[]>(correlations.map((c) => [c, []]));
  try {
    for (const [db, pool] of Object.entries(stores)) {
      // numeric: pg gives it as a string.
      const { rows } = await pool.query<{ correlation: string; type: string; at: string }>(
        `SELECT metadata->>'correlationId' AS correlation, event_type AS type,
                extract(epoch FROM recorded_at) * 1000 AS at
           FROM events WHERE metadata->>'correlationId' = ANY($1)`,
        [correlations],
      );
      for (const r of rows)
        events.get(r.correlation)?.push({ label: `${db}: ${r.type}`, at: Number(r.at) });
    }
  } finally {
    await Promise.all(others.map(([, pool]) => pool.end()));
  }
  const steps = new Map<string, { gaps: number[]; positions: number[] }>();
  for (const line of events.values()) {
    line.sort((a, b) => a.at - b.at);
    line.forEach((event, i) => {
      const before = line[i - 1];
      if (!before) return;
      const key = `${before.label}\u0000${event.label}`;
      const step = steps.get(key) ?? { gaps: [], positions: [] };
      step.gaps.push(event.at - before.at);
      step.positions.push(i);
      steps.set(key, step);
    });
  }
  return [...steps]
    .filter(([, step]) => step.gaps.length * 2 >= correlations.length)
    .map(([key, step]) => {
      const [from = '', to = ''] = key.split('\u0000');
      const positions = step.positions.sort((a, b) => a - b);
      return {
        from,
        to,
        gaps: step.gaps.sort((a, b) => a - b),
        position: positions[Math.floor(positions.length / 2)] ?? 0,
      };
    })
    .sort((a, b) => a.position - b.position);
}

try {
  const skus = Array.from({ length: skuCount }, (_, i) => `BENCH-${run}-${i}`);
  await Promise.all(
    skus.map(async (sku) =>
      accepted(
        await client('inventory-service').POST('/inventory/{sku}/restock', {
          params: { path: { sku }, header: { 'Idempotency-Key': randomUUID() } },
          body: { quantity: 1_000_000 },
        }),
        `restock ${sku}`,
      ),
    ),
  );
  const rich = Array.from({ length: 50 }, (_, i) => `bench-${run}-${i}`);
  const deposit = async (customerId: string, amount: number) =>
    accepted(
      await client('payment-service').POST('/accounts/{customerId}/deposit', {
        params: { path: { customerId }, header: { 'Idempotency-Key': randomUUID() } },
        body: { amount },
      }),
      `deposit ${customerId}`,
    );
  await Promise.all(rich.map((c) => deposit(c, 1e12)));
  const poor = Array.from({ length: 10 }, (_, i) => `bench-poor-${run}-${i}`);
  await Promise.all(poor.map((c) => deposit(c, 1)));

  await idle();

  const orders = new pg.Pool({ ...postgresConfig('orders'), max: 2 });
  const sagas = new pg.Pool({ ...postgresConfig('sagas'), max: 3 });

  /**
   * The customer's side of a cancellation: each chosen order is cancelled once its saga has
   * completed (polled from the sagas' summary rows), while the load goes on.
   */
  const canceller = () => {
    const waiting = new Set<string>();
    const cancelled: string[] = [];
    const state = { offering: true };
    const giveUpAt = Date.now() + 600_000;
    const loop = (async () => {
      while (state.offering || waiting.size > 0) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        if (waiting.size === 0) continue;
        const { rows } = await sagas.query<{ id: string; status: string }>(
          `SELECT stream_id AS id, status FROM stream_summaries WHERE stream_type = 'order-saga'
              AND stream_id = ANY($1) AND status IN ('COMPLETED', 'COMPENSATED')`,
          [[...waiting]],
        );
        if (Date.now() > giveUpAt)
          throw new Error(`${waiting.size} orders to cancel never had their saga end`);
        await Promise.all(
          rows.map(async ({ id, status }) => {
            waiting.delete(id);
            if (status !== 'COMPLETED') return; // rejected (a deadline under load): nothing to cancel
            const r = await client('order-service').POST('/orders/{id}/cancel', {
              params: { path: { id }, header: { 'Idempotency-Key': randomUUID() } },
              headers: await bench.headers({ customer: customers.get(id) ?? '' }),
              body: { reason: 'bench: changed my mind' },
            });
            accepted(r, `cancel ${id}`);
            cancelled.push(id);
          }),
        );
      }
    })();
    return {
      add: (orderId: string) => waiting.add(orderId),
      /** Once the offer is over: every chosen order cancelled; their ids. */
      done: async () => {
        state.offering = false;
        await loop;
        return cancelled;
      },
    };
  };

  // Open loop: each order leaves on its schedule, whether or not the earlier ones are done.
  const offer = async (
    total: number,
  ): Promise<{ orderIds: string[]; cancelledIds: string[]; offeredSeconds: number }> => {
    const started = performance.now();
    const placing: Promise<string>[] = [];
    const cancels = canceller();
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const declined = i % Math.round(1 / declinedShare) === 0;
      const cancel =
        !declined && cancelEvery > 0 && i % cancelEvery === Math.floor(cancelEvery / 2);
      const customerId = declined ? poor[i % poor.length] : rich[i % rich.length];
      placing.push(
        client('order-service')
          .POST('/orders', {
            params: { header: { 'Idempotency-Key': randomUUID() } },
            body: {
              customerId: customerId ?? '',
              items: [{ sku: skus[i % skus.length] ?? '', quantity: 1, unitPrice: 100 }],
              ...contactFor(customerId ?? ''),
            },
          })
          .then((r) => {
            const { orderId } = accepted(r, 'place an order');
            customers.set(orderId, customerId ?? '');
            if (cancel) cancels.add(orderId);
            return orderId;
          }),
      );
    }
    const orderIds = await Promise.all(placing);
    const offeredSeconds = (performance.now() - started) / 1000;
    return { orderIds, cancelledIds: await cancels.done(), offeredSeconds };
  };
  const ended = async (orderIds: readonly string[], type = 'order-saga'): Promise<void> => {
    const waitStart = Date.now();
    for (;;) {
      const { rows } = await sagas.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM stream_summaries WHERE stream_type = $2
            AND stream_id = ANY($1) AND status IN ('COMPLETED', 'COMPENSATED')`,
        [orderIds, type],
      );
      if ((rows[0]?.n ?? 0) === orderIds.length) {
        console.log(`all ${orderIds.length} ${type} sagas ended`);
        return;
      }
      if (Date.now() - waitStart > 300_000)
        throw new Error(`${type} sagas did not all end in 5 minutes`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  };
  const allEnded = async (placed: { orderIds: string[]; cancelledIds: string[] }) => {
    await ended(placed.orderIds);
    await ended(placed.cancelledIds, 'order-cancellation');
  };

  if (warmupSeconds > 0) {
    console.log(`warming up: ${rate * warmupSeconds} orders at ${rate}/s, not timed`);
    await allEnded(await offer(rate * warmupSeconds));
    await idle();
  }
  const total = rate * seconds;
  console.log(`offering ${total} orders at ${rate}/s`);
  const cpuBefore = cpuSample(SYSTEM_ROLES);
  const { orderIds, cancelledIds, offeredSeconds } = await offer(total);
  await allEnded({ orderIds, cancelledIds });
  const cpu = cpuBetween(cpuBefore, cpuSample(SYSTEM_ROLES));
  const { rows: outcomes } = await orders.query<{ event_type: string; ms: number }>(
    `SELECT e.event_type, extract(epoch FROM e.recorded_at - c.recorded_at) * 1000 AS ms
       FROM events c JOIN events e ON e.stream_id = c.stream_id AND e.stream_type = 'order'
      WHERE c.stream_type = 'order' AND c.stream_id = ANY($1) AND c.event_type = 'OrderCreated'
        AND e.event_type IN ('OrderApproved', 'OrderRejected')`,
    [orderIds],
  );
  const { rows: ends } = await sagas.query<{ ended: Date; status: string }>(
    `SELECT e.recorded_at AS ended, s.status
       FROM stream_summaries s JOIN events e ON e.stream_type = s.stream_type AND e.stream_id = s.stream_id
      WHERE s.stream_type = 'order-saga' AND s.stream_id = ANY($1)
        AND e.event_type IN ('SagaCompleted', 'SagaCompensated')`,
    [orderIds],
  );
  const { rows: createdAt } = await orders.query<{ first: Date; last: Date }>(
    `SELECT min(recorded_at) AS first, max(recorded_at) AS last FROM events
      WHERE stream_type = 'order' AND stream_id = ANY($1) AND event_type = 'OrderCreated'`,
    [orderIds],
  );
  const { rows: toEnd } = await sagas.query<{ ms: number }>(
    `SELECT extract(epoch FROM e.recorded_at - s.started_at) * 1000 AS ms
       FROM stream_summaries s JOIN events e ON e.stream_type = s.stream_type AND e.stream_id = s.stream_id
      WHERE s.stream_type = 'order-saga' AND s.stream_id = ANY($1) AND e.event_type = 'SagaCompleted'`,
    [orderIds],
  );
  const { rows: cancelling } = await orders.query<{ ms: number }>(
    `SELECT extract(epoch FROM e.recorded_at - r.recorded_at) * 1000 AS ms
       FROM events r JOIN events e ON e.stream_id = r.stream_id AND e.stream_type = 'order'
      WHERE r.stream_type = 'order' AND r.stream_id = ANY($1)
        AND r.event_type = 'OrderCancellationRequested' AND e.event_type = 'OrderCancelled'`,
    [cancelledIds],
  );
  const { rows: cancellationSagas } = await sagas.query<{ ms: number }>(
    `SELECT extract(epoch FROM e.recorded_at - s.started_at) * 1000 AS ms
       FROM stream_summaries s JOIN events e ON e.stream_type = s.stream_type AND e.stream_id = s.stream_id
      WHERE s.stream_type = 'order-cancellation' AND s.stream_id = ANY($1)
        AND e.event_type = 'SagaCompleted'`,
    [cancelledIds],
  );
  const hops = await timeline(orders, sagas, orderIds);
  await Promise.all([orders.end(), sagas.end()]);

  const sorted = (xs: number[]) => xs.map(Number).sort((a, b) => a - b);
  const confirmed = sorted(
    outcomes.filter((o) => o.event_type === 'OrderApproved').map((o) => o.ms),
  );
  const rejected = sorted(
    outcomes.filter((o) => o.event_type === 'OrderRejected').map((o) => o.ms),
  );
  const completedToEnd = sorted(toEnd.map((r) => r.ms));
  const cancelledLatency = sorted(cancelling.map((r) => r.ms));
  const cancellationToEnd = sorted(cancellationSagas.map((r) => r.ms));
  const firstCreated = createdAt[0]?.first.getTime() ?? 0;
  const lastEnded = Math.max(...ends.map((e) => e.ended.getTime()));
  const sagasPerSecond = ends.length / ((lastEnded - firstCreated) / 1000);
  const line = (name: string, xs: number[]) =>
    `| ${name} | ${xs.length} | ${ms(percentile(xs, 50))} | ${ms(percentile(xs, 99))} | ${ms(xs.at(-1) ?? Number.NaN)} |`;
  const body = `
## Order saga at ${rate}/s over ${skuCount} SKUs (\`BENCH_RATE=${rate} BENCH_SKUS=${skuCount} npm run bench -- saga\`)

Machine: ${machine()}. Everything on this one machine: PostgreSQL, Kafka, the order, inventory
and payment services and the orchestrator (real processes, as \`npm start\` runs them).
Offered load: ${rate} orders/s for ${seconds} s, open loop (${orderIds.length} orders of one line
each, over ${skuCount} SKU${skuCount === 1 ? '' : 's'}, one in ten declined for want of funds${cancelEvery > 0 ? `, one in ${cancelEvery} cancelled by its customer once confirmed (${cancelledIds.length})` : ''});
offered in ${offeredSeconds.toFixed(1)} s, after ${warmupSeconds > 0 ? `a warm-up of the same load for ${warmupSeconds} s, untimed, and its drain (the engines and services start cold)` : 'no warm-up'}.

**Sagas ended: ${sagasPerSecond.toFixed(1)} per second** (${ends.length} sagas, first OrderCreated to
last saga end). Latencies from the services' event stores (one Postgres clock), in ms:

| path | orders | p50 | p99 | max |
|---|---:|---:|---:|---:|
${line('happy: order accepted -> CONFIRMED', confirmed)}
${line('happy: saga started -> completed (stock committed, payment captured)', completedToEnd)}
${line('compensation: order accepted -> REJECTED (reserve, decline, release, reject)', rejected)}
${
  cancelEvery > 0
    ? `${line('cancellation: requested -> CANCELLED (refund, return stock, complete)', cancelledLatency)}
${line('cancellation: saga started -> completed', cancellationToEnd)}
`
    : ''
}
Targets (issue 5): at least 150 sagas/s, happy p99 under 1 s, compensation p99 under 2 s.

Where a confirmed order's time goes: each event of its correlation in the four stores, in
recorded order, and the time since the one before it (ms; the steps most orders take):

| from | to | steps | p50 | p90 |
|---|---|---:|---:|---:|
${hops.map((h) => `| ${h.from} | ${h.to} | ${h.gaps.length} | ${ms(percentile(h.gaps, 50))} | ${ms(percentile(h.gaps, 90))} |`).join('\n')}
`;
  console.log(body);
  if (summaryFile) {
    const summary: SagaSummary = {
      rate,
      offered: orderIds.length,
      ended: ends.length,
      sagasPerSecond,
      happy: confirmed,
      sagaToEnd: completedToEnd,
      compensation: rejected,
      cancellation: cancelledLatency,
      cpu,
      steps: hops.map((h) => stepOf(`${h.from} -> ${h.to}`, h.gaps)),
    };
    writeFileSync(summaryFile, JSON.stringify(summary));
  } else
    await writeSection(
      `saga-${rate}${skuCount === 100 ? '' : `-${skuCount}sku`}${cancelEvery > 0 ? '' : '-nocancel'}`,
      body,
    );
} finally {
  await Promise.all(services.map((s) => s.stop()));
}
