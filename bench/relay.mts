// The outbox relay: commit-to-Kafka-ack latency at a fixed offered load (1,000 events/s by
// default), and the drain rate of a 100,000-row backlog. Real PostgreSQL and Kafka; the
// latency is measured in this process from the append's commit to the broker's ack of that
// message (one clock).
import pg from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import {
  EventRegistry,
  OutboxRelay,
  PostgresEventStore,
  migrate,
  outboxBacklog,
  uuidv7,
} from '@es/event-store';
import { KafkaPublisher, ensureTopics, type OutboundMessage } from '@es/messaging';
import { kafkaConfig, postgresConfig } from '@es/runtime-config';
import { machine, ms, percentile, writeSection } from './lib.mts';

const rate = Number(process.env['BENCH_RATE'] ?? 1000);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 10);
const warmup = Number(process.env['BENCH_WARMUP'] ?? 2);
const backlog = Number(process.env['BENCH_BACKLOG'] ?? 100_000);
const database = 'bench_relay';

const admin = new pg.Pool({ ...postgresConfig('postgres'), max: 1 });
await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
await admin.query(`CREATE DATABASE ${database}`);
await admin.end();
const pool = new pg.Pool({ ...postgresConfig(database), max: 20 });
await migrate(pool);
const registry = new EventRegistry([
  { type: 'OrderCreated', schemaVersion: 1, validate: () => [] },
]);
const store = new PostgresEventStore(pool, registry);

const kafka = new Kafka({
  clientId: 'bench-relay',
  brokers: [...kafkaConfig('bench').brokers],
  logLevel: logLevel.ERROR,
});
const kafkaAdmin = kafka.admin();
await kafkaAdmin.connect();
const topic = `bench-relay-${Date.now()}`;
await ensureTopics(kafkaAdmin, [topic], { withDeadLetters: false });
await kafkaAdmin.disconnect();

const ackedAt = new Map<string, number>();
const inner = new KafkaPublisher(kafka);
const publisher = {
  async publish(batch: readonly OutboundMessage[]) {
    await inner.publish(batch);
    const now = performance.now();
    for (const m of batch) ackedAt.set(m.messageId, now);
  },
};
const data = {
  customerId: 'customer-0000123456',
  items: [{ sku: 'SKU-000123', quantity: 2, unitPrice: 1999 }],
  total: 3998,
};
const metadata = { correlationId: 'bench', causationId: null };

// 1. Latency at a fixed offered load: one append every 1/rate s, paced in 10 ms ticks.
const relay = new OutboxRelay(postgresConfig(database), publisher, {
  name: 'bench',
  registry,
  batchSize: 500,
});
relay.start();
const committedAt = new Map<string, number>();
const pending: Promise<void>[] = [];
const perTick = rate / 100;
const started = performance.now();
const measureFrom = warmup * 100;
for (let tick = 0; tick < (warmup + seconds) * 100; tick++) {
  const due = started + tick * 10;
  const wait = due - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  for (let i = 0; i < perTick; i++) {
    pending.push(
      store
        .append({ type: 'order', id: uuidv7() }, [{ type: 'OrderCreated', data }], {
          expectedVersion: 'no_stream',
          metadata,
          outbox: [{ eventIndex: 0, topic }],
        })
        .then((r) => {
          if (tick >= measureFrom) committedAt.set(r.events[0]!.eventId, performance.now());
        }),
    );
  }
}
await Promise.all(pending);
const offered = committedAt.size / ((performance.now() - started) / 1000 - warmup);
while ([...committedAt.keys()].some((id) => !ackedAt.has(id)))
  await new Promise((r) => setTimeout(r, 50));
const lags = [...committedAt].map(([id, t]) => ackedAt.get(id)! - t).sort((a, b) => a - b);
await relay.stop();
const p50 = percentile(lags, 50);
const p99 = percentile(lags, 99);
process.stdout.write(
  `offered ${Math.round(offered)}/s: commit-to-ack p50 ${ms(p50)} ms, p99 ${ms(p99)} ms, max ${ms(lags.at(-1)!)} ms\n`,
);

// 2. Drain: a backlog written while no relay runs, then one relay publishes it all.
await pool.query(
  `WITH e AS (
     INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
     SELECT 'order', 'o-' || g, 1, gen_random_uuid(), 'OrderCreated', 1, $1::jsonb, $2::jsonb FROM generate_series(1, $3) g
     RETURNING global_position, stream_id, event_id)
   INSERT INTO outbox (topic, message_key, message_id, event_position) SELECT $4, stream_id, event_id, global_position FROM e`,
  [data, metadata, backlog, topic],
);
await pool.query('VACUUM ANALYZE outbox');
const drainer = new OutboxRelay(postgresConfig(database), publisher, {
  name: 'bench-drain',
  registry,
  batchSize: 2000,
});
const drainStart = performance.now();
drainer.start();
while ((await outboxBacklog(pool)).unpublished > 0) await new Promise((r) => setTimeout(r, 100));
const drainSeconds = (performance.now() - drainStart) / 1000;
await drainer.stop();
await inner.close();
await pool.end();
const drainRate = Math.round(backlog / drainSeconds);
process.stdout.write(`drained ${backlog} in ${drainSeconds.toFixed(1)} s: ${drainRate}/s\n`);

await writeSection(
  'relay',
  `## Outbox relay (issue: event store, outbox and relay)

| measure | result | target |
|---|---|---|
| commit-to-Kafka-ack at ${Math.round(offered)} events/s offered (${seconds} s) | p50 ${ms(p50)} ms, p99 ${ms(p99)} ms | p99 < 100 ms |
| drain of a ${backlog.toLocaleString('en')}-row backlog (batch 2,000) | ${drainRate.toLocaleString('en')} events/s (${drainSeconds.toFixed(1)} s) | >= 10,000/s |

Latency: one append per event (new stream, one outbox row), paced in 10 ms ticks, after ${warmup} s of the same load (the producer's first\nInitProducerId waits for the transaction coordinator); measured
from the append's commit to the broker's ack of that message, in one process. Drain: rows
written by one SQL statement with no relay running, then one relay (idempotent producer,
acks=all) until the backlog is 0. Same machine as the append figures, everything on it:
${machine()}. Command: \`npm run bench -- relay\` (${new Date().toISOString().slice(0, 10)}).`,
);
