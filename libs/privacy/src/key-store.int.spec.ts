// The key vault's data keys' table on the real cluster, used by several processes at once.
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { postgresConfig } from '@es/runtime-config';
import { createTestDatabase, type TestDatabase } from '@es/testing';
import {
  ERASED,
  PostgresKeyStore,
  Shredder,
  masterKey,
  migrateKeyStore,
  type PersonalData,
} from './index';

const PERSONAL: PersonalData = { subject: 'customerId', fields: ['name', 'email'] };
const person = { customerId: 'c-9q', name: 'Wendeline Oyelaran', email: 'wo@example.invalid' };

describe('PostgresKeyStore', () => {
  let db: TestDatabase;
  let service: Pool;
  const master = masterKey(randomBytes(32));

  beforeAll(async () => {
    db = await createTestDatabase('keys');
    // Twice at once, then again: what every process does at its start.
    await Promise.all([migrateKeyStore(db.pool), migrateKeyStore(db.pool)]);
    await migrateKeyStore(db.pool);
    service = new Pool({ ...postgresConfig(db.name), max: 4 });
  });
  afterAll(async () => {
    await service.end();
    await db.drop();
  });

  it('makes one key per subject however many writers race for it', async () => {
    const stores = Array.from({ length: 4 }, () => new PostgresKeyStore(service, [master]));
    for (let round = 0; round < 20; round++) {
      const subject = `c-race-${round}`;
      const keys = await Promise.all(
        Array.from({ length: 8 }, (_, i) => stores[i % 4]!.keyFor(subject)),
      );
      expect(new Set(keys.map((k) => k.key.toString('hex'))).size).toBe(1);
      const { rows } = await db.pool.query(
        'SELECT generation FROM data_keys WHERE subject = $1 AND wrapped IS NOT NULL',
        [subject],
      );
      expect({ subject, live: rows.length }).toEqual({ subject, live: 1 });
    }
  });

  it('gives another process the same key, and its values open there', async () => {
    const sealed = await new Shredder(new PostgresKeyStore(service, [master])).seal(
      person,
      PERSONAL,
    );
    const elsewhere = new Pool({ ...postgresConfig(db.name), max: 1 });
    try {
      const opened = await new Shredder(new PostgresKeyStore(elsewhere, [master])).open(sealed);
      expect(opened).toEqual(person);
    } finally {
      await elsewhere.end();
    }
  });

  it('erases for good: the key is gone from the table, values read as erased, a new key is new', async () => {
    const store = new PostgresKeyStore(service, [master]);
    const shredder = new Shredder(store);
    const sealed = await shredder.seal({ ...person, customerId: 'c-gone' }, PERSONAL);
    const { rows: before } = await db.pool.query<{ wrapped: Buffer }>(
      "SELECT wrapped FROM data_keys WHERE subject = 'c-gone'",
    );
    const wrapped = before[0]!.wrapped;
    expect(await store.erase('c-gone')).toBe(1);
    expect(await store.erase('c-gone')).toBe(0);
    const { rows: dump } = await db.pool.query<{ row: string }>(
      'SELECT row_to_json(k)::text AS row FROM data_keys k',
    );
    const text = dump.map((r) => r.row).join('\n');
    expect(text).not.toContain(wrapped.toString('hex'));
    expect(text).toContain('"subject":"c-gone","generation":1');
    expect(await shredder.open(sealed)).toEqual({
      customerId: 'c-gone',
      name: ERASED,
      email: ERASED,
    });
    expect((await store.keyFor('c-gone')).id).toBe('c-gone#2');
  });

  it('unwraps with the master key that wrapped, through a rotation, and names one it lacks', async () => {
    const old = new PostgresKeyStore(service, [master]);
    const sealed = await new Shredder(old).seal({ ...person, customerId: 'c-rot' }, PERSONAL);
    const next = masterKey(randomBytes(32));
    const rotated = new Shredder(new PostgresKeyStore(service, [next, master]));
    expect(await rotated.open(sealed)).toEqual({ ...person, customerId: 'c-rot' });
    const fresh = await new PostgresKeyStore(service, [next, master]).keyFor('c-new');
    const { rows } = await db.pool.query<{ master_key: string }>(
      "SELECT master_key FROM data_keys WHERE subject = 'c-new'",
    );
    expect(rows[0]?.master_key).toBe(next.id);
    expect(fresh.id).toBe('c-new#1');
    const without = new Shredder(new PostgresKeyStore(service, [next]));
    await expect(without.open(sealed)).rejects.toThrow(
      `wrapped under master key ${master.id}, which is not configured`,
    );
  });

  it('refuses a sealed value naming a key this store never had', async () => {
    const store = new PostgresKeyStore(service, [master]);
    await expect(store.key('c-never#1')).rejects.toThrow('data key c-never#1 does not exist');
  });
});
