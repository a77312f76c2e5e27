// Least privilege in PostgreSQL (docs/security.md, PostgreSQL): the owner migrates and grants a
// service's role what it needs; the service's role may append and read events, never change or
// delete one, and reaches its own database only. On the real local cluster, with the roles
// infra/local/postgres.sh provisions (es_orders, es_inventory).
import { Client, Pool } from 'pg';
import { postgresConfig } from '@es/runtime-config';
import { createTestDatabase, type TestDatabase } from '@es/testing';
import { counterRegistry } from '../testing/counter';
import { PostgresEventStore } from './event-store';
import { MIGRATIONS, migrate } from './schema';

const SERVICE_ROLE = 'es_orders';
const metadata = { correlationId: 'c', causationId: null, actor: 'roles-test' };

/** A pool for `database` as `user`, its password from the stack's passfile. */
function poolAs(user: string, database: string): Pool {
  const pool = new Pool({ ...postgresConfig(database, { ...process.env, PGUSER: user }), max: 2 });
  pool.on('error', () => undefined);
  return pool;
}

describe('PostgreSQL roles: the owner migrates, a service appends and never rewrites', () => {
  let db: TestDatabase;
  let service: Pool;

  beforeAll(async () => {
    db = await createTestDatabase('roles');
    await migrate(db.pool, MIGRATIONS, { grantTo: SERVICE_ROLE });
    service = poolAs(SERVICE_ROLE, db.name);
  });
  afterAll(async () => {
    await service.end();
    await db.drop();
  });

  it('lets the service role append events and read them back through the store', async () => {
    const store = new PostgresEventStore(service, counterRegistry());
    const stream = { type: 'counter', id: 'granted' };
    await store.append(stream, [{ type: 'CounterOpened', data: { limit: 3 } }], {
      expectedVersion: 'no_stream',
      metadata,
      outbox: [{ eventIndex: 0, topic: 'counters' }],
    });
    expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['CounterOpened']);
    // Everything but the events may change: the relay deletes what it published.
    await expect(service.query('DELETE FROM outbox')).resolves.toBeDefined();
  });

  it.each([
    ['UPDATE', "UPDATE events SET data = '{}'"],
    ['DELETE', 'DELETE FROM events'],
    ['TRUNCATE', 'TRUNCATE events'],
    ['a migration record', "INSERT INTO es_migrations (version, name) VALUES (99, 'x')"],
    ['a new table', 'CREATE TABLE sneaky (id int)'],
  ])('refuses %s as the service role, and nothing changes', async (_what, sql) => {
    const count = 'SELECT count(*)::int AS n, max(data::text) AS d FROM events';
    const before = await db.pool.query<{ n: number; d: string }>(count);
    await expect(service.query(sql)).rejects.toMatchObject({ code: '42501' });
    const after = await db.pool.query<{ n: number; d: string }>(count);
    expect(after.rows).toEqual(before.rows);
    expect(before.rows[0]?.n).toBeGreaterThan(0);
  });

  it('lets the owner do what the service may not: the refusals are the grants, not the schema', async () => {
    const client = await db.pool.connect();
    try {
      await client.query('BEGIN');
      await expect(client.query("UPDATE events SET data = '{}'")).resolves.toBeDefined();
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it('tells a service role that cannot migrate which migrations are missing and what to set', async () => {
    const later = [
      ...MIGRATIONS,
      { version: 999, name: 'later', sql: 'CREATE TABLE later (id int)' },
    ];
    await expect(migrate(service, later)).rejects.toThrow(
      /lacks migrations 999, which role es_orders may not apply: set PG_MIGRATION_USER/,
    );
    await expect(migrate(service)).resolves.toEqual([]); // up to date: it only reads
  });

  it("keeps a service role out of another service's database and of physical replication", async () => {
    const other = new Client(postgresConfig('inventory', { ...process.env, PGUSER: SERVICE_ROLE }));
    await expect(other.connect()).rejects.toThrow(/permission denied for database "inventory"/);
    const own = new Client(postgresConfig('orders', { ...process.env, PGUSER: SERVICE_ROLE }));
    await own.connect();
    await own.end();
    // A walsender for the whole cluster's WAL: no pg_hba.conf line allows one.
    const physical = new Client({
      ...postgresConfig('orders', { ...process.env, PGUSER: SERVICE_ROLE }),
      replication: 'true',
    } as ConstructorParameters<typeof Client>[0]);
    await expect(physical.connect()).rejects.toThrow(/no pg_hba.conf entry for replication/);
  });
});
