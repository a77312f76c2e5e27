// The Temporal side of bench/saga-vs-temporal.mts, at one offered rate: the Temporal development
// server (SQLite on disk, WAL, fsync per commit: durable as this system's PostgreSQL with
// synchronous_commit on) and a worker running the order workflows (workflows.ts) whose
// activities write the participants' effects to their own PostgreSQL databases (activities.ts).
// The load is saga.mts's: BENCH_RATE orders/s for BENCH_SECONDS, open loop, after a warm-up of
// BENCH_WARMUP_SECONDS; one in ten for a customer without funds (compensated), one in ten
// cancelled by its customer once its saga completed. Writes a SagaSummary to BENCH_SUMMARY_FILE.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { postgresConfig } from '@es/runtime-config';
import {
  cpuBetween,
  cpuSample,
  percentile,
  root,
  sagaLoad,
  stepOf,
  type Roles,
  type SagaSummary,
  type Step,
} from '../lib.mts';
import { APPLIED, DATABASES, SCHEMAS } from './activities.ts';
import type { OrderInput, orderCancellation, orderSaga } from './workflows.ts';

const { rate, seconds, warmupSeconds, skuCount, cancelShare } = sagaLoad();
const summaryFile = process.env['BENCH_SUMMARY_FILE'];
const port = Number(process.env['TEMPORAL_PORT'] ?? 7233);
const address = `127.0.0.1:${port}`;
const taskQueue = 'bench-orders';
// full: every commit fsynced, as this system's PostgreSQL (synchronous_commit on); normal: the WAL
// fsynced at checkpoints only (a power loss may lose the last commits, a crash of the server not).
const sqliteSync = process.env['TEMPORAL_SQLITE_SYNC'] ?? 'full';
const declinedEvery = 10;
const cancelEvery = cancelShare > 0 ? Math.round(1 / cancelShare) : 0;

const ROLES: Roles = {
  'temporal server': (cmdline) => cmdline.includes('server start-dev'),
  'temporal worker': (cmdline) => cmdline.includes('bench/temporal/worker.ts'),
  postgres: (_, comm) => comm === 'postgres',
  load: (cmdline) => cmdline.includes('bench/temporal/peer.mts'),
};

/** Fresh databases for the activities, stock and funds in them. */
async function prepare(skus: readonly string[], rich: readonly string[], poor: readonly string[]) {
  const admin = new pg.Pool({ ...postgresConfig('postgres'), max: 1 });
  for (const [name, database] of Object.entries(DATABASES)) {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${database}`);
    const db = new pg.Pool({ ...postgresConfig(database), max: 1 });
    await db.query(`${SCHEMAS[name as keyof typeof DATABASES]}; ${APPLIED}`);
    if (name === 'inventory')
      await db.query(`INSERT INTO stock (sku, on_hand) SELECT unnest($1::text[]), 1000000`, [skus]);
    if (name === 'payments')
      await db.query(
        `INSERT INTO accounts (customer_id, balance)
         SELECT unnest($1::text[]), 1000000000000 UNION ALL SELECT unnest($2::text[]), 1`,
        [rich, poor],
      );
    await db.end();
  }
  await admin.end();
}

// History event types (temporal.api.enums.v1.EventType) this saga's histories hold.
const EVENT_TYPES: Record<number, string> = {
  1: 'workflow started',
  2: 'workflow completed',
  5: 'workflow task scheduled',
  6: 'workflow task started',
  7: 'workflow task completed',
  8: 'workflow task timed out',
  9: 'workflow task failed',
  10: 'activity scheduled',
  11: 'activity started',
  12: 'activity completed',
  13: 'activity failed',
  14: 'activity timed out',
};

/**
 * Where a saga's time goes on Temporal: from the histories of up to 100 of the timed sagas
 * (spread over the run), each step between two history events (by their types) with the time
 * it took, ms. A step an order takes several times (each activity's dispatch) counts each time.
 */
async function historySteps(client: Client, ids: readonly string[]): Promise<Step[]> {
  const steps = new Map<string, number[]>();
  // Spread over the run: the first orders of an overloaded run waited least.
  const every = Math.max(1, Math.floor(ids.length / 100));
  for (const id of ids.filter((_, i) => i % every === 0).slice(0, 100)) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    let before: { type: string; at: number } | undefined;
    for (const event of history.events ?? []) {
      const type = EVENT_TYPES[Number(event.eventType)] ?? `event ${String(event.eventType)}`;
      const at = Number(event.eventTime?.seconds ?? 0) * 1000 + (event.eventTime?.nanos ?? 0) / 1e6;
      if (before) {
        const key = `${before.type} -> ${type}`;
        const gaps = steps.get(key) ?? [];
        gaps.push(at - before.at);
        steps.set(key, gaps);
      }
      before = { type, at };
    }
  }
  return [...steps].map(([step, gaps]) =>
    stepOf(
      step,
      gaps.sort((a, b) => a - b),
    ),
  );
}

/** Starts a child and waits for a line of its output that says it is ready. */
async function started(child: ChildProcess, ready: (line: string) => boolean, what: string) {
  const lines = createInterface({ input: child.stdout! });
  const errors: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => errors.push(chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => {
      reject(new Error(`${what} exited (${code}): ${errors.join('')}`));
    });
    lines.on('line', (line) => {
      if (ready(line)) resolve();
    });
  });
}

async function connected(): Promise<Connection> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const connection = await Connection.connect({ address });
      await connection.workflowService.getSystemInfo({});
      return connection;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

const binary = execFileSync('bash', [join(root, 'bench/temporal/build.sh')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim();
const run = Date.now().toString(36);
const skus = Array.from({ length: skuCount }, (_, i) => `T-${run}-${i}`);
const rich = Array.from({ length: 50 }, (_, i) => `t-${run}-${i}`);
const poor = Array.from({ length: 10 }, (_, i) => `t-poor-${run}-${i}`);
await prepare(skus, rich, poor);

const dataDir = mkdtempSync(join(tmpdir(), 'bench-temporal-'));
const server = spawn(
  binary,
  [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--headless',
    '--log-level',
    'error',
    '--db-filename',
    join(dataDir, 'temporal.db'),
    ...(process.env['TEMPORAL_DEV_ARGS'] ?? '').split(' ').filter(Boolean),
    '--sqlite-pragma',
    'journal_mode=wal',
    '--sqlite-pragma',
    `synchronous=${sqliteSync}`,
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
let worker: ChildProcess | undefined;
const stopAll = async () => {
  for (const child of [worker, server]) {
    if (!child || child.exitCode !== null) continue;
    const exited = new Promise<boolean>((resolve) =>
      child.once('exit', () => {
        resolve(true);
      }),
    );
    child.kill('SIGTERM');
    const late = new Promise<boolean>((resolve) =>
      setTimeout(() => {
        resolve(false);
      }, 10_000),
    );
    if (!(await Promise.race([exited, late]))) child.kill('SIGKILL');
  }
  rmSync(dataDir, { recursive: true, force: true });
};

try {
  const connection = await connected();
  worker = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(root, 'bench/temporal/worker.ts')],
    {
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_TASK_QUEUE: taskQueue },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  await started(worker, (line) => line === 'ready', 'the Temporal worker');
  const client = new Client({ connection, namespace: 'default' });

  /** Offers `total` orders open loop; resolves once every saga and cancellation has ended. */
  // The orders' ends are read from the orders database (one query a tenth of a second, as
  // saga.mts reads the sagas' summaries), not awaited per workflow: a result() each is a long
  // poll each, and past a thousand at once the server refuses them (its namespace's concurrent
  // poller limit), as an overloaded side's backlog reaches at 300/s.
  const orders = new pg.Pool({ ...postgresConfig(DATABASES.orders), max: 2 });
  const tick = () => new Promise((resolve) => setTimeout(resolve, 100));

  /** Offers `total` orders open loop; resolves once every saga and cancellation has ended. */
  const offer = async (total: number, label: string) => {
    const startedAt = performance.now();
    const starting: Promise<unknown>[] = [];
    const ids: string[] = [];
    const toCancel = new Map<string, OrderInput>();
    const cancelled: string[] = [];
    const state = { offering: true };
    const giveUpAt = Date.now() + 1_800_000;
    // The customer's side of a cancellation: each chosen order once its saga has completed.
    const canceller = (async () => {
      while (state.offering || toCancel.size > 0) {
        await tick();
        if (toCancel.size === 0) continue;
        const { rows } = await orders.query<{ order_id: string; status: string }>(
          `SELECT order_id, status FROM orders WHERE order_id = ANY($1) AND ended_at IS NOT NULL`,
          [[...toCancel.keys()]],
        );
        if (Date.now() > giveUpAt) throw new Error('orders to cancel never had their saga end');
        for (const { order_id: id, status } of rows) {
          const order = toCancel.get(id);
          toCancel.delete(id);
          if (!order || status !== 'CONFIRMED') continue;
          cancelled.push(id);
          starting.push(
            client.workflow.start<typeof orderCancellation>('orderCancellation', {
              taskQueue,
              workflowId: `cancel-${id}`,
              args: [order],
            }),
          );
        }
      }
    })();
    for (let i = 0; i < total; i++) {
      const due = startedAt + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const declined = i % declinedEvery === 0;
      const cancel =
        !declined && cancelEvery > 0 && i % cancelEvery === Math.floor(cancelEvery / 2);
      const order: OrderInput = {
        orderId: `${label}-${randomUUID()}`,
        customerId: (declined ? poor[i % poor.length] : rich[i % rich.length]) ?? '',
        sku: skus[i % skus.length] ?? '',
        quantity: 1,
        amount: 100,
        acceptedAt: Date.now(),
      };
      ids.push(order.orderId);
      if (cancel) toCancel.set(order.orderId, order);
      starting.push(
        client.workflow.start<typeof orderSaga>('orderSaga', {
          taskQueue,
          workflowId: order.orderId,
          args: [order],
        }),
      );
    }
    state.offering = false;
    await canceller;
    await Promise.all(starting);
    // Every saga ended, and every cancellation completed.
    for (;;) {
      const { rows } = await orders.query<{ open: number }>(
        `SELECT count(*)::int AS open FROM orders WHERE order_id = ANY($1)
            AND (ended_at IS NULL OR (order_id = ANY($2) AND cancelled_at IS NULL))`,
        [ids, cancelled],
      );
      const { rows: made } = await orders.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM orders WHERE order_id = ANY($1)',
        [ids],
      );
      if (rows[0]?.open === 0 && made[0]?.n === ids.length) break;
      if (Date.now() > giveUpAt) throw new Error(`sagas still open after 30 minutes`);
      await tick();
    }
    return { ids, cancelled };
  };

  if (warmupSeconds > 0) {
    console.log(`warming up: ${rate * warmupSeconds} orders at ${rate}/s, not timed`);
    await offer(rate * warmupSeconds, 'warm');
  }
  console.log(`offering ${rate * seconds} orders at ${rate}/s`);
  const before = cpuSample(ROLES);
  const { ids, cancelled } = await offer(rate * seconds, 'timed');
  console.log(`all ${ids.length} sagas and ${cancelled.length} cancellations ended`);
  const cpu = cpuBetween(before, cpuSample(ROLES));

  const steps = await historySteps(
    client,
    ids.filter((_, i) => i % declinedEvery !== 0),
  );
  const { rows } = await orders.query<{
    status: string;
    decided: number;
    ended: number | null;
    cancelling: number | null;
    ended_at: Date | null;
    created_at: Date;
  }>(
    `SELECT status, created_at, ended_at,
            extract(epoch FROM decided_at - created_at) * 1000 AS decided,
            extract(epoch FROM ended_at - created_at) * 1000 AS ended,
            extract(epoch FROM cancelled_at - cancel_requested_at) * 1000 AS cancelling
       FROM orders WHERE order_id = ANY($1)`,
    [ids],
  );
  await orders.end();
  const sorted = (xs: (number | null)[]) =>
    xs
      .filter((x): x is number => x !== null)
      .map(Number)
      .sort((a, b) => a - b);
  const confirmed = rows.filter((r) => r.status === 'CONFIRMED' || r.status === 'CANCELLED');
  const first = Math.min(...rows.map((r) => r.created_at.getTime()));
  const last = Math.max(...rows.map((r) => r.ended_at?.getTime() ?? 0));
  const summary: SagaSummary = {
    rate,
    offered: ids.length,
    ended: rows.filter((r) => r.ended_at !== null).length,
    sagasPerSecond: rows.length / ((last - first) / 1000),
    happy: sorted(confirmed.map((r) => r.decided)),
    sagaToEnd: sorted(confirmed.map((r) => r.ended)),
    compensation: sorted(rows.filter((r) => r.status === 'REJECTED').map((r) => r.decided)),
    cancellation: sorted(rows.map((r) => r.cancelling)),
    cpu,
    steps,
  };
  const p = (xs: readonly number[]) =>
    `p50 ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
  console.log(
    `temporal: ${summary.ended}/${summary.offered} sagas ended, ${summary.sagasPerSecond.toFixed(1)}/s; happy ${p(summary.happy)}; compensation ${p(summary.compensation)}; cancellation ${p(summary.cancellation)}`,
  );
  if (summaryFile) writeFileSync(summaryFile, JSON.stringify(summary));
  await connection.close();
} finally {
  await stopAll();
}
