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
      const dropper = new Pool({ ...postgresConfig('postgres'), max: 1 });
      try {
        await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
