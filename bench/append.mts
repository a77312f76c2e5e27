// Appends per second and latency of one event + its outbox row per transaction, at 1, 8 and 32
// concurrent writers: the event store beside two raw baselines on the same PostgreSQL
// ((a) BEGIN, INSERT event, INSERT outbox, COMMIT; (b) both rows in one statement, about the
// ceiling for one transaction per append), the store with group commit (concurrent appends in
// one transaction, as the services run it) and Emmett's PostgreSQL event store as a peer. Each contender
// runs in its own process, in its own database, after a CHECKPOINT. Beside them, the cost of
// personal data (docs/privacy.md): the same grouped appends with the customer's contact in the
// clear, sealed for returning customers (keys cached), and sealed for a new customer each time
// (a key made per append). BENCH_ONLY=main or BENCH_ONLY=personal runs one table.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '@es/event-store';
import { postgresConfig } from '@es/runtime-config';
import { machine, ms, root, writeSection } from './lib.mts';

const writers = (process.env['BENCH_WRITERS'] ?? '1,8,32').split(',').map(Number);
const seconds = Number(process.env['BENCH_SECONDS'] ?? 5);
// Rounds of every contender, in rotating order; each figure is the median round. One run each
// swung by 10-20% between runs on these machines, more than some of the differences measured.
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 3);
const warmup = Number(process.env['BENCH_WARMUP'] ?? 2);
const MAIN = ['raw-tx', 'raw-cte', 'store', 'store-plain', 'store-grouped', 'emmett'] as const;
const PERSONAL = [
  'store-contact',
  'store-sealed-bytes',
  'store-sealed',
  'store-sealed-new',
] as const;
type Contender = (typeof MAIN)[number] | (typeof PERSONAL)[number];
const only = process.env['BENCH_ONLY'];
const contenders: readonly Contender[] = [
  ...(only === 'personal' ? [] : MAIN),
  ...(only === 'main' ? [] : PERSONAL),
];

const RAW_SCHEMA = `
  CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id text NOT NULL, version integer NOT NULL, event_type text NOT NULL,
    data jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (stream_id, version));
  CREATE TABLE outbox (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    global_position bigint NOT NULL, topic text NOT NULL, key text NOT NULL, payload jsonb NOT NULL);`;

const database = (c: Contender) => `bench_${c.replaceAll('-', '_')}`;

async function prepare(): Promise<void> {
  const admin = new pg.Pool({ ...postgresConfig('postgres'), max: 1 });
  for (const c of contenders) {
    await admin.query(`DROP DATABASE IF EXISTS ${database(c)} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${database(c)}`);
    const pool = new pg.Pool({ ...postgresConfig(database(c)), max: 1 });
    if (c.startsWith('store')) await migrate(pool);
    if (c === 'raw-tx' || c === 'raw-cte') await pool.query(RAW_SCHEMA);
    await pool.end();
  }
  await admin.end();
}

async function checkpoint(db: string): Promise<void> {
  const pool = new pg.Pool({ ...postgresConfig(db), max: 1 });
  await pool.query('CHECKPOINT').catch(() => undefined); // needs pg_checkpoint; skipped without
  await pool.end();
}

interface Result {
  contender: Contender;
  writers: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function main(): Promise<void> {
  await prepare();
  const results: Result[] = [];
  for (const w of writers) {
    const runs = new Map<Contender, Result[]>(contenders.map((c) => [c, []]));
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < contenders.length; k++) {
        const c = contenders[(k + round) % contenders.length]!;
        await checkpoint(database(c));
        const out = execFileSync(
          process.execPath,
          [
            join(root, 'bench', 'append-worker.mts'),
            c,
            String(w),
            String(warmup),
            String(seconds),
            database(c),
          ],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const r = JSON.parse(out) as Result;
        runs.get(c)!.push(r);
        process.stdout.write(
          `${c.padEnd(8)} ${String(w).padStart(2)} writers, round ${round + 1}: ${String(r.perSecond).padStart(6)}/s  p50 ${ms(r.p50)} ms  p99 ${ms(r.p99)} ms\n`,
        );
      }
    }
    for (const c of contenders) {
      const sorted = [...runs.get(c)!].sort((x, y) => x.perSecond - y.perSecond);
      results.push(sorted[Math.floor(sorted.length / 2)]!);
    }
  }
  const get = (c: Contender, w: number) =>
    results.find((r) => r.contender === c && r.writers === w)!;
  const cell = (r: Result) => `${r.perSecond} (${ms(r.p50)} / ${ms(r.p99)})`;
  const ratio = (x: Result, y: Result) => (x.perSecond / y.perSecond).toFixed(2);
  if (only !== 'main') await writePersonal(writers.map((w) => PERSONAL.map((c) => get(c, w))));
  if (only === 'personal') return;
  const rows = writers.map((w) => {
    const [a, b, s, p, g, e] = MAIN.map((c) => get(c, w));
    return `| ${w} | ${cell(a!)} | ${cell(b!)} | ${cell(s!)} | ${cell(p!)} | ${cell(g!)} | ${cell(e!)} | ${ratio(s!, b!)} | ${ratio(s!, p!)} | ${ratio(g!, b!)} | ${ratio(s!, e!)} |`;
  });
  await writeSection(
    'append',
    `## Event store append (issue: event store, outbox and relay)

One event (~200 B data, ~150 B metadata) and its outbox row per transaction, each append a new
stream with "no stream" expected. Appends/s, and (p50 / p99 latency in ms). Each contender in
its own process and database on the same PostgreSQL (\`synchronous_commit=on\`), ${warmup} s warm-up,
${seconds} s measured, CHECKPOINT before each run; ${rounds} rounds in rotating order, each cell
the median round (one run alone swung by 10-20% on this machine).

- (a) raw transaction: BEGIN, INSERT event, INSERT outbox, COMMIT (4 round trips).
- (b) raw single statement: both rows in one data-modifying CTE, about the ceiling for one
  transaction per append.
- store: \`PostgresEventStore.append\` with an outbox message: validation, expected-version
  check, event id, metadata, transaction id, wakes the relay if it sleeps; one statement.
- store, plain pg: the same through pg's own \`Query\` (\`wire: 'pg'\`, the fallback should a pg
  upgrade break the wire path the store uses): a Describe and a parsed row object per append.
- store, grouped: the same with \`groupCommit: true\`, as the services run it: appends made
  while others are on their way share one transaction and round trip (one writer: none do).
- Emmett: \`@event-driven-io/emmett-postgresql\` 0.42.0 \`appendToStream\`, expected version 0n
  (no outbox row: Emmett has none).

| writers | (a) raw tx | (b) raw one statement | store | store, plain pg | store, grouped | Emmett | store / (b) | store / plain pg | grouped / (b) | store / Emmett |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Machine: ${machine()}. Command: \`npm run bench -- append\` (${new Date().toISOString().slice(0, 10)}).`,
  );
}

/** The cost of sealing personal fields, side by side in the same run. */
async function writePersonal(rows: readonly (readonly Result[])[]): Promise<void> {
  const cell = (r: Result) => `${r.perSecond} (${ms(r.p50)} / ${ms(r.p99)})`;
  const ratio = (x: Result, y: Result) => (x.perSecond / y.perSecond).toFixed(2);
  const lines = rows.map(([clear, bytes, sealed, fresh]) => {
    return `| ${clear!.writers} | ${cell(clear!)} | ${cell(bytes!)} | ${cell(sealed!)} | ${cell(fresh!)} | ${ratio(bytes!, clear!)} | ${ratio(sealed!, bytes!)} | ${ratio(sealed!, clear!)} | ${ratio(fresh!, clear!)} |`;
  });
  await writeSection(
    'append-personal',
    `## The cost of personal data on appends (issue: the right to erasure)

The store's grouped appends (as the services run them) of an order-sized event that carries its
customer's contact (name, email and shipping address, ~350 B of data, as \`OrderCreated\`
version 3 holds it), with its outbox row: in the clear
(no personal fields declared), sealed for returning customers (1,000 of them, round robin: each
key made once, then cached), and sealed for a new customer every time (a data key made, wrapped
and inserted into the vault per append: the worst case). Between the first two, the sealed
bytes without the cipher: each customer's contact sealed once before the clock starts and
appended as it is, undeclared, which splits what sealing costs into the cost of larger rows
(bytes / clear) and the cipher's (returning / bytes). Appends/s, and (p50 / p99 latency in
ms); the same PostgreSQL, processes, warm-up, ${seconds} s measured and median of ${rounds} rounds as
the table above, in the same run. Sealing is one AES-256-GCM operation per event, the contact
sealed whole (docs/privacy.md).

| writers | contact in the clear | sealed bytes, no cipher | sealed, returning customers | sealed, a new customer each | bytes / clear | returning / bytes | returning / clear | new / clear |
|---|---|---|---|---|---|---|---|---|
${lines.join('\n')}

Machine: ${machine()}. Command: \`npm run bench -- append\` (\`BENCH_ONLY=personal\` for this table alone; ${new Date().toISOString().slice(0, 10)}).`,
  );
}

await main();
