// What the verdict sweep (apps/order-service/src/verdict-sweep.ts) costs, in two parts, each side
// by side with its alternative in one run:
// 1. Its query: the PENDING orders past the nudge age, read from the summary index (what the
//    sweep runs), against the events-only anti-join (version 1 with no version 2) the sweep
//    would need without order summaries, on the same store: BENCH_ORDERS decided orders and
//    BENCH_PENDING pending ones, written straight into the tables.
// 2. What the summary costs the writes: placing orders through the command handler (group
//    commit, as the service runs it) with the order aggregate as it is, and the same aggregate
//    without its summary, BENCH_WRITERS writers, BENCH_SECONDS per round, rounds alternating.
import { createRequire } from 'node:module';
import pg from 'pg';
import {
  CommandHandler,
  EventRegistry,
  PostgresEventStore,
  migrate,
  type AggregateDefinition,
} from '@es/event-store';
import { postgresConfig } from '@es/runtime-config';
import { machine, ms, percentile, root, writeSection } from './lib.mts';

const orders = Number(process.env['BENCH_ORDERS'] ?? 200_000);
const pending = Number(process.env['BENCH_PENDING'] ?? 1_000);
const queries = Number(process.env['BENCH_QUERIES'] ?? 50);
const writers = Number(process.env['BENCH_WRITERS'] ?? 16);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);

// The order service's own definitions, as built (`npm run bench` builds first).
const require = createRequire(import.meta.url);
const { orderAggregate } = require(`${root}/apps/order-service/dist/order.aggregate.js`) as {
  orderAggregate: AggregateDefinition<unknown, never, unknown>;
};
const { orderEventSchemas } = require(`${root}/libs/order/contracts/dist/index.js`) as {
  orderEventSchemas: ConstructorParameters<typeof EventRegistry>[0];
};

const SUMMARY_QUERY = `SELECT stream_id, due_at FROM stream_summaries
  WHERE stream_type = 'order' AND due_at IS NOT NULL AND due_at <= now() - interval '30 seconds'
  ORDER BY due_at LIMIT 200`;
const EVENTS_QUERY = `SELECT c.stream_id, c.recorded_at FROM events c
  WHERE c.stream_type = 'order' AND c.stream_version = 1
    AND c.recorded_at <= now() - interval '30 seconds'
    AND NOT EXISTS (SELECT 1 FROM events v WHERE v.stream_type = 'order'
                    AND v.stream_id = c.stream_id AND v.stream_version = 2)
  ORDER BY c.recorded_at LIMIT 200`;

async function fresh(name: string): Promise<pg.Pool> {
  const admin = new pg.Pool({ ...postgresConfig('postgres'), max: 1 });
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const pool = new pg.Pool({ ...postgresConfig(name), max: writers + 2 });
  await migrate(pool);
  return pool;
}

/** BENCH_ORDERS decided orders (two events, no due time) and BENCH_PENDING pending ones. */
async function seed(pool: pg.Pool): Promise<void> {
  await pool.query(
    `INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata, recorded_at)
     SELECT 'order', 'o-' || i, v, gen_random_uuid(), CASE v WHEN 1 THEN 'OrderCreated' ELSE 'OrderApproved' END,
            1, jsonb_build_object('orderId', 'o-' || i), '{"correlationId":"bench","causationId":null}',
            now() - make_interval(secs => $1 - i)
       FROM generate_series(1, $1::int) i, generate_series(1, CASE WHEN i <= $1 - $2 THEN 2 ELSE 1 END) v`,
    [orders + pending, pending],
  );
  await pool.query(
    `INSERT INTO stream_summaries (stream_type, stream_id, stream_version, status, step, due_at, started_at)
     SELECT 'order', stream_id, max(stream_version),
            CASE max(stream_version) WHEN 1 THEN 'PENDING' ELSE 'CONFIRMED' END, NULL,
            CASE max(stream_version) WHEN 1 THEN min(recorded_at) END, min(recorded_at)
       FROM events WHERE stream_type = 'order' GROUP BY stream_id`,
  );
  await pool.query('VACUUM ANALYZE events');
  await pool.query('VACUUM ANALYZE stream_summaries');
}

async function timeQuery(
  pool: pg.Pool,
  text: string,
): Promise<{ p50: number; p99: number; rows: number }> {
  let rows = 0;
  const times: number[] = [];
  for (let i = 0; i < queries + 3; i++) {
    const started = performance.now();
    const result = await pool.query(text);
    if (i >= 3) times.push(performance.now() - started); // after a warm-up
    rows = result.rowCount ?? 0;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p99: percentile(times, 99), rows };
}

/** Orders placed through the command handler for BENCH_SECONDS: per second, p50, p99. */
async function place(
  pool: pg.Pool,
  definition: AggregateDefinition<unknown, never, unknown>,
): Promise<{ perSecond: number; p50: number; p99: number }> {
  const store = new PostgresEventStore(pool, new EventRegistry(orderEventSchemas), {
    groupCommit: true,
  });
  const handler = new CommandHandler(store);
  const latencies: number[] = [];
  const until = Date.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (Date.now() < until) {
        const orderId = `b-${process.pid}-${++n}-${Math.random().toString(36).slice(2)}`;
        const started = performance.now();
        await handler.handle(
          definition,
          orderId,
          {
            type: 'CreateOrder',
            orderId,
            customerId: 'bench',
            items: [{ sku: 'SKU-1', quantity: 1, unitPrice: 100 }],
            at: new Date().toISOString(),
          },
          { metadata: { correlationId: orderId, causationId: null } },
          { assumeNew: true },
        );
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    perSecond: Math.round(latencies.length / seconds),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

async function main(): Promise<void> {
  const read = await fresh('bench_sweep_read');
  await seed(read);
  const summary = await timeQuery(read, SUMMARY_QUERY);
  const events = await timeQuery(read, EVENTS_QUERY);
  if (summary.rows !== events.rows)
    throw new Error(`the two queries disagree: ${summary.rows} and ${events.rows} rows`);
  process.stdout.write(
    `sweep query, ${orders} decided + ${pending} pending: summary index p50 ${ms(summary.p50)} ms p99 ${ms(summary.p99)} ms; events anti-join p50 ${ms(events.p50)} ms p99 ${ms(events.p99)} ms (${summary.rows} rows)\n`,
  );
  await read.end();

  const withoutSummary = { ...orderAggregate, summary: undefined };
  const contenders = { 'with summary': orderAggregate, 'without summary': withoutSummary };
  const results = new Map<string, { perSecond: number; p50: number; p99: number }[]>();
  for (let round = 0; round < rounds; round++) {
    const names = Object.keys(contenders) as (keyof typeof contenders)[];
    for (const name of round % 2 === 0 ? names : [...names].reverse()) {
      const pool = await fresh('bench_sweep_write');
      await pool.query('CHECKPOINT').catch(() => undefined);
      const r = await place(pool, contenders[name]);
      await pool.end();
      results.set(name, [...(results.get(name) ?? []), r]);
      process.stdout.write(
        `${name.padEnd(16)} round ${round + 1}: ${r.perSecond}/s p50 ${ms(r.p50)} ms p99 ${ms(r.p99)} ms\n`,
      );
    }
  }
  const median = (name: string) => {
    const sorted = [...(results.get(name) ?? [])].sort((a, b) => a.perSecond - b.perSecond);
    return sorted[Math.floor(sorted.length / 2)]!;
  };
  const w = median('with summary');
  const wo = median('without summary');
  await writeSection(
    'sweep',
    `## The verdict sweep (issue: failures that heal themselves, item 3)

The query the order service's verdict sweep runs every second (PENDING orders placed more than
30 s ago, at most 200), on a store of ${orders.toLocaleString('en')} decided orders and
${pending.toLocaleString('en')} pending ones, beside the events-only anti-join the sweep would
need without order summary rows; ${queries} runs each after a warm-up, in ms. Then what the
summary row costs placing an order: \`CommandHandler.handle\` of \`CreateOrder\` with group
commit, ${writers} writers, ${seconds} s per round, ${rounds} rounds alternating, each figure
the median round, with the order aggregate as the service runs it and without its summary.

| query | p50 | p99 | rows |
|---|---|---|---|
| summary index (the sweep) | ${ms(summary.p50)} | ${ms(summary.p99)} | ${summary.rows} |
| events anti-join | ${ms(events.p50)} | ${ms(events.p99)} | ${events.rows} |
| ratio, anti-join / index (p50) | ${(events.p50 / summary.p50).toFixed(0)}× | | |

| placing orders | orders/s | p50 ms | p99 ms |
|---|---|---|---|
| with the summary row | ${w.perSecond} | ${ms(w.p50)} | ${ms(w.p99)} |
| without | ${wo.perSecond} | ${ms(wo.p50)} | ${ms(wo.p99)} |
| ratio, with / without | ${(w.perSecond / wo.perSecond).toFixed(2)} | | |

Machine: ${machine()}. Command: \`npm run bench -- sweep\` (${new Date().toISOString().slice(0, 10)}).`,
  );
}

await main();
