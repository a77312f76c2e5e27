// The two outbox relays side by side in one run, decoding (logical decoding, the default) and
// polling (the table behind the xmin horizon), on real PostgreSQL and Kafka, each on its own
// database: commit-to-Kafka-ack latency at fixed offered loads (1,000 and 10,000 events/s by
// default), the same with a write transaction held open in another database of the cluster,
// the drain of a 100,000-row backlog, and the writers' closed-loop append rate while each relay
// runs (does the slot cost the writers anything?). The latency is measured in this process
// from the append's commit to the broker's ack of that message (one clock).
import pg from 'pg';
import {
  EventRegistry,
  PostgresEventStore,
  createRelay,
  migrate,
  uuidv7,
  type Relay,
  type RelayMode,
} from '@es/event-store';
import { KafkaPublisher, ensureTopics, type OutboundMessage } from '@es/messaging';
import { kafkaConfig, postgresConfig } from '@es/runtime-config';
import { kafkaFor } from '@es/testing';
import { machine, ms, percentile, writeSection } from './lib.mts';

const rates = (process.env['BENCH_RATES'] ?? '1000,10000').split(',').map(Number);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 10);
const warmup = Number(process.env['BENCH_WARMUP'] ?? 2);
const backlog = Number(process.env['BENCH_BACKLOG'] ?? 100_000);
const writers = Number(process.env['BENCH_WRITERS'] ?? 32);
const modes: RelayMode[] = ['decoding', 'polling'];

const admin = new pg.Pool({ ...postgresConfig('postgres'), max: 1 });
async function freshDatabase(name: string): Promise<void> {
  await admin.query(
    `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
     WHERE database = $1 AND NOT active`,
    [name],
  );
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${name}`);
}
await freshDatabase('bench_relay_other');
const other = new pg.Pool({ ...postgresConfig('bench_relay_other'), max: 1 });
await other.query('CREATE TABLE held (id int)');

const registry = new EventRegistry([
  { type: 'OrderCreated', schemaVersion: 1, validate: () => [] },
]);
const kafka = kafkaFor(kafkaConfig('bench-relay'));
const data = {
  customerId: 'customer-0000123456',
  items: [{ sku: 'SKU-000123', quantity: 2, unitPrice: 1999 }],
  total: 3998,
};
const metadata = { correlationId: 'bench', causationId: null };
const ackedAt = new Map<string, number>();
const inner = new KafkaPublisher(kafka);
const publisher = {
  async publish(batch: readonly OutboundMessage[]) {
    await inner.publish(batch);
    const now = performance.now();
    for (const m of batch) ackedAt.set(m.messageId, now);
  },
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Setup {
  readonly mode: RelayMode;
  readonly database: string;
  readonly pool: pg.Pool;
  readonly store: PostgresEventStore;
  readonly topic: string;
}

async function setUp(mode: RelayMode): Promise<Setup> {
  const database = `bench_relay_${mode}`;
  await freshDatabase(database);
  const pool = new pg.Pool({ ...postgresConfig(database), max: 20 });
  await migrate(pool);
  const kafkaAdmin = kafka.admin();
  await kafkaAdmin.connect();
  const topic = `bench-relay-${mode}-${Date.now()}`;
  await ensureTopics(kafkaAdmin, [topic], { withDeadLetters: false });
  await kafkaAdmin.disconnect();
  // The services' store: concurrent appends share a commit (group-commit.ts).
  const store = new PostgresEventStore(pool, registry, { groupCommit: true });
  return { mode, database, pool, store, topic };
}

const relayOf = (s: Setup, name: string, batchSize = 500): Relay =>
  createRelay(s.mode, postgresConfig(s.database), publisher, { name, registry, batchSize });

const appendOne = (s: Setup) =>
  s.store.append({ type: 'order', id: uuidv7() }, [{ type: 'OrderCreated', data }], {
    expectedVersion: 'no_stream',
    metadata,
    outbox: [{ eventIndex: 0, topic: s.topic }],
  });

interface Latency {
  readonly offered: number;
  readonly min: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** One append every 1/rate s, paced in 10 ms ticks; latency from each commit to its ack. */
async function latency(s: Setup, rate: number, holdOpen: boolean): Promise<Latency> {
  const relay = relayOf(s, `bench-${s.mode}`);
  relay.start();
  while (!relay.isLeader) await sleep(20);
  await appendOne(s); // the slot (decoding) exists and streams before anything is held
  const held = holdOpen ? await other.connect() : undefined;
  if (held) {
    await held.query('BEGIN');
    await held.query('INSERT INTO held VALUES (1)'); // a write: it has a transaction id
  }
  const committedAt = new Map<string, number>();
  const pending: Promise<void>[] = [];
  const perTick = rate / 100;
  const started = performance.now();
  const measureFrom = warmup * 100;
  for (let tick = 0; tick < (warmup + seconds) * 100; tick++) {
    const wait = started + tick * 10 - performance.now();
    if (wait > 0) await sleep(wait);
    for (let i = 0; i < perTick; i++)
      pending.push(
        appendOne(s).then((r) => {
          if (tick >= measureFrom) committedAt.set(r.events[0]!.eventId, performance.now());
        }),
      );
  }
  await Promise.all(pending);
  const offered = committedAt.size / ((performance.now() - started) / 1000 - warmup);
  // Held for the whole load and released once it is over: the polling relay waits for it.
  if (held) {
    await held.query('ROLLBACK');
    held.release();
  }
  while ([...committedAt.keys()].some((id) => !ackedAt.has(id))) await sleep(50);
  await relay.stop();
  const lags = [...committedAt].map(([id, t]) => ackedAt.get(id)! - t).sort((a, b) => a - b);
  return {
    offered,
    min: lags[0]!,
    p50: percentile(lags, 50),
    p99: percentile(lags, 99),
    max: lags.at(-1)!,
  };
}

/** A backlog written while no relay runs (one statement), then one relay publishes it all. */
async function drain(s: Setup): Promise<number> {
  // Decoding: the slot must exist before the backlog, or the relay would publish it from the
  // table (its catch-up) instead of from the WAL.
  const first = relayOf(s, 'bench-drain');
  first.start();
  while (!first.isLeader) await sleep(20);
  await first.drain(10_000);
  await first.stop();
  await s.pool.query(
    `WITH e AS (
       INSERT INTO events (stream_type, stream_id, stream_version, event_id, event_type, schema_version, data, metadata)
       SELECT 'order', 'o-' || g, 1, gen_random_uuid(), 'OrderCreated', 1, $1::jsonb, $2::jsonb FROM generate_series(1, $3) g
       RETURNING global_position, stream_id, event_id)
     INSERT INTO outbox (topic, message_key, message_id, event_position) SELECT $4, stream_id, event_id, global_position FROM e`,
    [data, metadata, backlog, s.topic],
  );
  await s.pool.query('VACUUM ANALYZE outbox');
  const drainer = relayOf(s, 'bench-drain', 2000);
  const drainStart = performance.now();
  drainer.start();
  while (!drainer.isLeader) await sleep(5);
  while (!(await drainer.drain(60_000))) await sleep(10);
  const drainSeconds = (performance.now() - drainStart) / 1000;
  await drainer.stop();
  return Math.round(backlog / drainSeconds);
}

/** Closed loop: `writers` appends in flight for `seconds`, the relay publishing. */
async function appendRate(s: Setup): Promise<number> {
  const relay = relayOf(s, 'bench-writers');
  relay.start();
  while (!relay.isLeader) await sleep(20);
  await appendOne(s);
  let done = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (performance.now() < end) {
        await appendOne(s);
        done++;
      }
    }),
  );
  const rate = done / seconds;
  await relay.drain(30_000);
  await relay.stop();
  return rate;
}

type Figures = {
  latency: Map<string, Latency>;
  drain: number;
  appends: number;
};
const results = new Map<RelayMode, Figures>();
for (const mode of modes) {
  const s = await setUp(mode);
  const figures: Figures = { latency: new Map(), drain: 0, appends: 0 };
  for (const rate of rates)
    for (const holdOpen of [false, true]) {
      const r = await latency(s, rate, holdOpen);
      figures.latency.set(`${rate}:${holdOpen}`, r);
      process.stdout.write(
        `${mode} at ${rate}/s${holdOpen ? ', a write transaction open in another database' : ''}: offered ${Math.round(r.offered)}/s, commit-to-ack min ${ms(r.min)} ms, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, max ${ms(r.max)} ms\n`,
      );
    }
  figures.drain = await drain(s);
  process.stdout.write(`${mode}: drained ${backlog} at ${figures.drain}/s\n`);
  figures.appends = await appendRate(s);
  process.stdout.write(`${mode}: ${writers} writers appended ${Math.round(figures.appends)}/s\n`);
  results.set(mode, figures);
  await s.pool.end();
}
await inner.close();
await other.end();
await freshDatabase('bench_relay_other');
await admin.end();

const decoding = results.get('decoding')!;
const polling = results.get('polling')!;
const latencyCell = (l: Latency) =>
  `p50 ${ms(l.p50)}, p99 ${ms(l.p99)} (${Math.round(l.offered).toLocaleString('en')}/s)`;
/** Two decimals, or two significant digits below 0.01 (a held transaction's ratio). */
const ratio = (r: number) => (r >= 0.01 ? r.toFixed(2) : r.toPrecision(2));
const rows: string[] = [];
for (const rate of rates)
  for (const holdOpen of [false, true]) {
    const key = `${rate}:${holdOpen}`;
    const d = decoding.latency.get(key)!;
    const p = polling.latency.get(key)!;
    rows.push(
      `| commit-to-ack at ${rate.toLocaleString('en')} events/s${holdOpen ? `, a write transaction open ${warmup + seconds} s in another database` : ''} (ms) | ${latencyCell(d)} | ${latencyCell(p)} | ${ratio(d.p99 / p.p99)} |`,
    );
  }
rows.push(
  `| drain of a ${backlog.toLocaleString('en')}-row backlog (events/s, batch 2,000) | ${decoding.drain.toLocaleString('en')} | ${polling.drain.toLocaleString('en')} | ${(decoding.drain / polling.drain).toFixed(2)} |`,
  `| ${writers} writers' closed-loop appends while the relay runs (appends/s) | ${Math.round(decoding.appends).toLocaleString('en')} | ${Math.round(polling.appends).toLocaleString('en')} | ${(decoding.appends / polling.appends).toFixed(2)} |`,
);

await writeSection(
  'relay',
  `## Outbox relay: decoding against polling (issues: event store, outbox and relay; the decoding relay)

| measure | decoding | polling | decoding / polling |
|---|---|---|---|
${rows.join('\n')}

Target for the decoding relay: p99 under 50 ms at 10,000 events/s, and unmoved by a transaction
held open elsewhere. Each mode on its own database, one after the other in one run. Latency:
one append per event (new stream, one outbox row, the services' group-commit store), paced in
10 ms ticks, after ${warmup} s of the same load, measured from the append's commit to the
broker's ack of that message, in one process; "offered" is the rate the appends achieved. The
decoding relay can receive a transaction before its writer has read the commit's reply, so its
smallest figures are that race, not the broker's round trip. The
held transaction inserts a row in another database before the load and rolls back after it:
the polling relay publishes nothing meanwhile (its p99 is the hold), the decoding relay is not
concerned. Drain: rows written by one SQL statement while no relay runs (the decoding relay's
slot already exists), then one relay until all is acknowledged. Appends: ${writers} concurrent
writers for ${seconds} s, the relay publishing, wal_level=logical in both (the cluster's
setting); the decoding column has a slot streaming the publication. Everything on one machine:
${machine()}. Command: \`npm run bench -- relay\` (${new Date().toISOString().slice(0, 10)}).`,
);
