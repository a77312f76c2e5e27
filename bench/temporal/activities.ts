// The Temporal peer's activities: the participants' effects, each a PostgreSQL transaction in
// the database of the service that owns it (orders, inventory, payments), as this system's
// participants write to their own. Idempotent by activity id (a retry after a crash that
// committed changes nothing and gives the same answer, refusal included), as this system's
// inbox makes a redelivered command. Run by the worker in plain Node (type-stripped).
import { ApplicationFailure, Context } from '@temporalio/activity';
import pg from 'pg';
import { postgresConfig } from '@es/runtime-config';
import type { OrderInput } from './workflows.ts';

export const DATABASES = {
  orders: 'bench_temporal_orders',
  inventory: 'bench_temporal_inventory',
  payments: 'bench_temporal_payments',
} as const;

export const SCHEMAS: Record<keyof typeof DATABASES, string> = {
  orders: `CREATE TABLE orders (
      order_id text PRIMARY KEY, customer_id text NOT NULL, sku text NOT NULL,
      quantity integer NOT NULL, amount bigint NOT NULL, status text NOT NULL, reason text,
      -- accepted_at: when the client asked; created_at: the order's record, which latencies
      -- are timed from (as this system's are from OrderCreated recorded).
      accepted_at timestamptz NOT NULL, created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      decided_at timestamptz, ended_at timestamptz,
      cancel_requested_at timestamptz, cancelled_at timestamptz)`,
  inventory: `CREATE TABLE stock (sku text PRIMARY KEY, on_hand bigint NOT NULL, reserved bigint NOT NULL DEFAULT 0);
    CREATE TABLE reservations (order_id text PRIMARY KEY, sku text NOT NULL, quantity integer NOT NULL, status text NOT NULL)`,
  payments: `CREATE TABLE accounts (customer_id text PRIMARY KEY, balance bigint NOT NULL, held bigint NOT NULL DEFAULT 0);
    CREATE TABLE payments (order_id text PRIMARY KEY, customer_id text NOT NULL, amount bigint NOT NULL, status text NOT NULL)`,
};
/** Every database also keeps the activities it applied, and a refusal's reason. */
export const APPLIED = 'CREATE TABLE applied (id text PRIMARY KEY, refusal text)';

const pools = new Map<string, pg.Pool>();
function pool(database: string): pg.Pool {
  let found = pools.get(database);
  if (!found) {
    found = new pg.Pool({ ...postgresConfig(database), max: 10 });
    pools.set(database, found);
  }
  return found;
}

export async function closePools(): Promise<void> {
  await Promise.all([...pools.values()].map((p) => p.end()));
  pools.clear();
}

type Work = (db: pg.PoolClient) => Promise<string | undefined>;

/**
 * Runs `work` once per activity (its workflow run and activity id), in one transaction with
 * the record that it ran; `work` answers a refusal's reason, or undefined. A refusal is a
 * non-retryable failure, the saga's cue to compensate, and answered again on a retry.
 */
async function once(database: string, work: Work): Promise<void> {
  const { workflowExecution: run, activityId } = Context.current().info;
  if (!run) throw new Error('an activity outside a workflow: nothing to be idempotent by');
  const id = `${run.workflowId}/${run.runId}/${activityId}`;
  const db = await pool(database).connect();
  let refusal: string | undefined;
  try {
    await db.query('BEGIN');
    const { rows } = await db.query<{ refusal: string | null }>(
      `INSERT INTO applied (id) VALUES ($1) ON CONFLICT (id) DO NOTHING RETURNING refusal`,
      [id],
    );
    if (rows.length === 0) {
      const prior = await db.query<{ refusal: string | null }>(
        'SELECT refusal FROM applied WHERE id = $1',
        [id],
      );
      refusal = prior.rows[0]?.refusal ?? undefined;
    } else {
      refusal = await work(db);
      if (refusal !== undefined)
        await db.query('UPDATE applied SET refusal = $2 WHERE id = $1', [id, refusal]);
    }
    await db.query('COMMIT');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    db.release();
  }
  if (refusal !== undefined) throw ApplicationFailure.nonRetryable(refusal, 'Refused');
}

const orders = (work: Work) => once(DATABASES.orders, work);
const inventory = (work: Work) => once(DATABASES.inventory, work);
const payments = (work: Work) => once(DATABASES.payments, work);
const done = async (promise: Promise<unknown>) => {
  await promise;
  return undefined;
};

export const createOrder = (o: OrderInput) =>
  orders((db) =>
    done(
      db.query(
        `INSERT INTO orders (order_id, customer_id, sku, quantity, amount, status, accepted_at)
         VALUES ($1, $2, $3, $4, $5, 'PENDING', to_timestamp($6 / 1000.0))`,
        [o.orderId, o.customerId, o.sku, o.quantity, o.amount, o.acceptedAt],
      ),
    ),
  );

export const reserveStock = (o: OrderInput) =>
  inventory(async (db) => {
    const { rowCount } = await db.query(
      `UPDATE stock SET reserved = reserved + $2 WHERE sku = $1 AND on_hand - reserved >= $2`,
      [o.sku, o.quantity],
    );
    if (rowCount !== 1) return `OUT_OF_STOCK: ${o.sku} short of ${o.quantity}`;
    await db.query(
      `INSERT INTO reservations (order_id, sku, quantity, status) VALUES ($1, $2, $3, 'RESERVED')`,
      [o.orderId, o.sku, o.quantity],
    );
    return undefined;
  });

/** A reservation's end: the stock moved by `stockSql` ($1 the SKU, $2 the quantity), its status. */
const endReservation = (stockSql: string, status: string) => (o: OrderInput) =>
  inventory(async (db) => {
    await db.query(stockSql, [o.sku, o.quantity]);
    return done(
      db.query(`UPDATE reservations SET status = $2 WHERE order_id = $1`, [o.orderId, status]),
    );
  });

export const releaseStock = endReservation(
  `UPDATE stock SET reserved = reserved - $2 WHERE sku = $1`,
  'RELEASED',
);
export const commitStock = endReservation(
  `UPDATE stock SET reserved = reserved - $2, on_hand = on_hand - $2 WHERE sku = $1`,
  'COMMITTED',
);
export const returnStock = endReservation(
  `UPDATE stock SET on_hand = on_hand + $2 WHERE sku = $1`,
  'RETURNED',
);

export const authorizePayment = (o: OrderInput) =>
  payments(async (db) => {
    const { rowCount } = await db.query(
      `UPDATE accounts SET held = held + $2 WHERE customer_id = $1 AND balance - held >= $2`,
      [o.customerId, o.amount],
    );
    if (rowCount !== 1) return `INSUFFICIENT_FUNDS: ${o.customerId} cannot pay ${o.amount}`;
    await db.query(
      `INSERT INTO payments (order_id, customer_id, amount, status) VALUES ($1, $2, $3, 'AUTHORIZED')`,
      [o.orderId, o.customerId, o.amount],
    );
    return undefined;
  });

/** An authorized payment settled: its new status, and the account moved by `accountSql`. */
const settlePayment = (status: string, accountSql: string) => (orderId: string) =>
  payments(async (db) => {
    const { rows } = await db.query<{ customer_id: string; amount: string }>(
      `UPDATE payments SET status = $2 WHERE order_id = $1 RETURNING customer_id, amount`,
      [orderId, status],
    );
    const p = rows[0];
    if (!p) throw new Error(`no payment for order ${orderId}`);
    return done(db.query(accountSql, [p.customer_id, p.amount]));
  });

export const capturePayment = settlePayment(
  'CAPTURED',
  `UPDATE accounts SET held = held - $2, balance = balance - $2 WHERE customer_id = $1`,
);
export const refundPayment = settlePayment(
  'REFUNDED',
  `UPDATE accounts SET balance = balance + $2 WHERE customer_id = $1`,
);

const orderUpdate = (sql: string, params: (id: string) => unknown[]) => (orderId: string) =>
  orders((db) => done(db.query(sql, params(orderId))));

export const approveOrder = orderUpdate(
  `UPDATE orders SET status = 'CONFIRMED', decided_at = clock_timestamp() WHERE order_id = $1`,
  (id) => [id],
);
export const endOrderSaga = orderUpdate(
  `UPDATE orders SET ended_at = clock_timestamp() WHERE order_id = $1`,
  (id) => [id],
);
export const completeCancellation = orderUpdate(
  `UPDATE orders SET status = 'CANCELLED', cancelled_at = clock_timestamp() WHERE order_id = $1`,
  (id) => [id],
);
export const rejectOrder = (orderId: string, reason: string) =>
  orders((db) =>
    done(
      db.query(
        `UPDATE orders SET status = 'REJECTED', reason = $2, decided_at = clock_timestamp(),
                ended_at = clock_timestamp() WHERE order_id = $1`,
        [orderId, reason],
      ),
    ),
  );
export const requestCancellation = orderUpdate(
  `UPDATE orders SET cancel_requested_at = clock_timestamp() WHERE order_id = $1`,
  (id) => [id],
);
