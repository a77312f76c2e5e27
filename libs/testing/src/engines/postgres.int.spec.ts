// The local PostgreSQL is the one the event store needs: reachable with the generated
// credentials, logical WAL, xid8 snapshots, per-service databases.
import { Pool } from 'pg';
import { postgresConfig } from '@es/runtime-config';
import { createTestDatabase, type TestDatabase } from '../postgres';

describe('PostgreSQL (local stack)', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('pg_roundtrip');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('round-trips rows with JSONB in a transaction, and rolls back what is not committed', async () => {
    await db.pool.query(
      'CREATE TABLE items (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, data jsonb NOT NULL)',
    );
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO items (data) VALUES ($1), ($2)', [
        { n: 1 },
        { n: 2, tags: ['a'] },
      ]);
      await client.query('COMMIT');
      await client.query('BEGIN');
      await client.query('INSERT INTO items (data) VALUES ($1)', [{ n: 3 }]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    const { rows } = await db.pool.query<{ data: unknown }>('SELECT data FROM items ORDER BY id');
    expect(rows.map((r) => r.data)).toEqual([{ n: 1 }, { n: 2, tags: ['a'] }]);
  });

  it('has logical WAL and the xid8 snapshot functions the event store relies on', async () => {
    const { rows } = await db.pool.query<{ wal_level: string; xmin_ok: boolean }>(
      `SELECT current_setting('wal_level') AS wal_level,
              pg_snapshot_xmin(pg_current_snapshot()) <= pg_current_xact_id() AS xmin_ok`,
    );
    expect(rows[0]).toEqual({ wal_level: 'logical', xmin_ok: true });
  });

  it.each(['orders', 'inventory', 'payments', 'sagas'])(
    'serves the %s database to the es role',
    async (database) => {
      const pool = new Pool({ ...postgresConfig(database), max: 1 });
      try {
        const { rows } = await pool.query<{ db: string; usr: string }>(
          'SELECT current_database() AS db, current_user AS usr',
        );
        expect(rows[0]).toEqual({ db: database, usr: 'es' });
      } finally {
        await pool.end();
      }
    },
  );

  it('refuses a wrong password', async () => {
    const pool = new Pool({ ...postgresConfig('orders'), password: 'wrong', max: 1 });
    try {
      await expect(pool.query('SELECT 1')).rejects.toThrow(/password authentication failed/);
    } finally {
      await pool.end();
    }
  });
});
