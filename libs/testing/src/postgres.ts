import { Pool } from 'pg';
import { postgresConfig } from '@es/runtime-config';
import { uniqueName } from './eventually';
import { loadStackEnv } from './stack';

export interface TestDatabase {
  readonly name: string;
  readonly pool: Pool;
  drop(): Promise<void>;
}

/** A fresh database on the local cluster, dropped (with its connections) by drop(). */
export async function createTestDatabase(prefix = 'test'): Promise<TestDatabase> {
  loadStackEnv();
  const name = uniqueName(prefix).toLowerCase();
  const admin = new Pool({ ...postgresConfig('postgres'), max: 1 });
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const pool = new Pool({ ...postgresConfig(name), max: 10 });
  // An idle client ended by the server (the forced drop below, a restart injected by a test) is
  // discarded by the pool; the error must not surface as an unhandled event.
  pool.on('error', () => undefined);
  return {
    name,
    pool,
    drop: async () => {
      await pool.end();
      await dropDatabase(name);
    },
  };
}

/**
 * Drops a database of the local cluster, with its connections and its replication slots (a
 * database with a slot, the decoding relay's, cannot be dropped, even forced).
 */
export async function dropDatabase(name: string): Promise<void> {
  const dropper = new Pool({ ...postgresConfig('postgres'), max: 1 });
  try {
    // A database with a replication slot (the decoding relay's) cannot be dropped, even
    // forced: end the slot's walsender, then drop the slot (it is inactive once it ended).
    for (let attempt = 0; ; attempt++) {
      const { rows } = await dropper.query<{ slot_name: string; active_pid: number | null }>(
        'SELECT slot_name, active_pid FROM pg_replication_slots WHERE database = $1',
        [name],
      );
      if (rows.length === 0) break;
      if (attempt >= 50) throw new Error(`the replication slots of ${name} stay active`);
      for (const slot of rows)
        await dropper.query(
          slot.active_pid === null
            ? 'SELECT pg_drop_replication_slot($1)'
            : 'SELECT pg_terminate_backend($1)',
          [slot.active_pid ?? slot.slot_name],
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await dropper.end();
  }
}
