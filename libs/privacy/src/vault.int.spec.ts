// The key vault on the local cluster as infra/local/postgres.sh makes it (docs/privacy.md): only
// the roles of the services that write or read personal data may connect, and after the owner's
// migration they may make, read and erase keys, never delete one.
import { randomBytes } from 'node:crypto';
import { Pool } from 'pg';
import { postgresConfig } from '@es/runtime-config';
import { loadStackEnv } from '@es/testing';
import { PostgresKeyStore, masterKey, migrateKeyStore } from './index';

const VAULT_ROLES = ['es_orders', 'es_payments'];

function poolAs(user: string): Pool {
  const pool = new Pool({ ...postgresConfig('vault', { ...process.env, PGUSER: user }), max: 2 });
  pool.on('error', () => undefined);
  return pool;
}

describe('the key vault', () => {
  const subject = `vault-${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    loadStackEnv();
    const owner = poolAs(process.env['PGUSER'] ?? 'es');
    try {
      await migrateKeyStore(owner, { grantTo: VAULT_ROLES });
    } finally {
      await owner.end();
    }
  });

  it.each(['es_inventory', 'es_sagas'])(
    'refuses %s, whose service has no personal data',
    async (role) => {
      const pool = poolAs(role);
      try {
        await expect(pool.query('SELECT 1')).rejects.toThrow(
          /permission denied for database "vault"/,
        );
      } finally {
        await pool.end();
      }
    },
  );

  it.each(VAULT_ROLES)('lets %s make, read and erase keys, and delete none', async (role) => {
    const pool = poolAs(role);
    try {
      const store = new PostgresKeyStore(pool, [masterKey(randomBytes(32))]);
      const key = await store.keyFor(`${subject}-${role}`);
      expect(await store.key(key.id)).toEqual(key);
      expect(await store.erase(`${subject}-${role}`)).toBe(1);
      await expect(
        pool.query('DELETE FROM data_keys WHERE subject = $1', [`${subject}-${role}`]),
      ).rejects.toThrow(/permission denied for table data_keys/);
      await expect(pool.query('TRUNCATE data_keys')).rejects.toThrow(/permission denied/);
      await expect(pool.query('CREATE TABLE mine (x int)')).rejects.toThrow(/permission denied/);
    } finally {
      await pool.end();
    }
  });
});
