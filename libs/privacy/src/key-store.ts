// Where data keys live (docs/privacy.md): a port, so a KMS or Vault can take the place of the
// PostgreSQL table each service keeps in its own database. A key is made the first time its
// subject's personal data is written, read back by the id a sealed value names, and destroyed
// by an erasure; a destroyed key reads as `erased`, for good.
import type { Pool } from 'pg';
import {
  dataKeyId,
  newDataKey,
  subjectOfKeyId,
  unwrapDataKey,
  type DataKey,
  type MasterKey,
} from './envelope';

export interface KeyStore {
  /** The subject's current key, made if it has none that is not erased. */
  keyFor(subject: string): Promise<DataKey>;
  /** The key a sealed value names, or `erased`; a key that never existed is an error. */
  key(id: string): Promise<DataKey | 'erased'>;
  /** Destroys every key of the subject; how many there were. */
  erase(subject: string): Promise<number>;
  /** Drops what is kept in memory of the subject's keys (another process erased them). */
  forget?(subject: string): void;
  /** The subject's current key if it is in memory now (a cache), without waiting for one. */
  keyForNow?(subject: string): DataKey | undefined;
}

/**
 * The data keys' table, in the key vault's database (docs/privacy.md): made by
 * migrateKeyStore(). A row keeps its subject and generation after erasure, with the key gone:
 * the tombstone says the values sealed under it were erased, not lost.
 */
const DATA_KEYS_SQL = `
  CREATE TABLE IF NOT EXISTS data_keys (
    subject     text        NOT NULL,
    generation  integer     NOT NULL CHECK (generation > 0),
    -- Which master key wrapped it (a fingerprint, not the key).
    master_key  text        NOT NULL,
    wrapped     bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    erased_at   timestamptz,
    PRIMARY KEY (subject, generation),
    CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL))
  );
  -- At most one key of a subject is not erased: two writers making a subject's first key, one
  -- of whom saw the other's row only when choosing its generation, still make one.
  CREATE UNIQUE INDEX IF NOT EXISTS data_keys_live ON data_keys (subject) WHERE wrapped IS NOT NULL;
`;

const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Creates the data keys' table where it is missing (callers starting together do not race),
 * as the vault's owner; then grants each of `grantTo` (the services' roles) what a key store
 * needs and no more: make, read and erase keys (INSERT, SELECT, UPDATE), never delete a row.
 */
export async function migrateKeyStore(
  pool: Pool,
  { grantTo = [] }: { readonly grantTo?: readonly string[] } = {},
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT pg_advisory_xact_lock(hashtext('es:privacy:data-keys'))");
    await client.query(DATA_KEYS_SQL);
    for (const role of grantTo)
      await client.query(
        `GRANT SELECT, INSERT, UPDATE ON data_keys TO ${quoted(role)};
         REVOKE DELETE, TRUNCATE ON data_keys FROM ${quoted(role)}`,
      );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export class PostgresKeyStore implements KeyStore {
  /** `masters[0]` wraps new keys; the others still unwrap the keys they wrapped (rotation). */
  constructor(
    private readonly pool: Pool,
    private readonly masters: readonly MasterKey[],
  ) {
    if (masters.length === 0) throw new Error('a key store needs a master key');
  }

  async keyFor(subject: string): Promise<DataKey> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const { rows } = await this.pool.query<{
        generation: number;
        master_key: string;
        wrapped: Buffer;
      }>(
        `SELECT generation, master_key, wrapped FROM data_keys
          WHERE subject = $1 AND wrapped IS NOT NULL ORDER BY generation DESC LIMIT 1`,
        [subject],
      );
      const current = rows[0];
      if (current)
        return this.unwrap(
          dataKeyId(subject, current.generation),
          current.master_key,
          current.wrapped,
        );
      // A new subject's key is generation 1 (one round trip more, not two); a subject erased
      // before has rows already, and the next generation after them.
      const generation =
        attempt === 0
          ? 1
          : ((
              await this.pool.query<{ generation: number | null }>(
                'SELECT max(generation) AS generation FROM data_keys WHERE subject = $1',
                [subject],
              )
            ).rows[0]?.generation ?? 0) + 1;
      const [master] = this.masters as [MasterKey, ...MasterKey[]];
      const made = newDataKey(master, subject, generation);
      // Two writers for one new subject: one row wins (the primary key or data_keys_live), the
      // other reads it on the next turn.
      const { rowCount } = await this.pool.query(
        `INSERT INTO data_keys (subject, generation, master_key, wrapped) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING`,
        [subject, generation, master.id, made.wrapped],
      );
      if (rowCount === 1) return made.key;
    }
    throw new Error(`no data key could be made for subject ${subject}`);
  }

  async key(id: string): Promise<DataKey | 'erased'> {
    const subject = subjectOfKeyId(id);
    const generation = Number(id.slice(subject.length + 1));
    const { rows } = await this.pool.query<{ master_key: string; wrapped: Buffer | null }>(
      'SELECT master_key, wrapped FROM data_keys WHERE subject = $1 AND generation = $2',
      [subject, generation],
    );
    const row = rows[0];
    if (!row) throw new Error(`data key ${id} does not exist in this store`);
    if (row.wrapped === null) return 'erased';
    return this.unwrap(id, row.master_key, row.wrapped);
  }

  async erase(subject: string): Promise<number> {
    const { rowCount } = await this.pool.query(
      `UPDATE data_keys SET wrapped = NULL, erased_at = now()
        WHERE subject = $1 AND wrapped IS NOT NULL`,
      [subject],
    );
    return rowCount ?? 0;
  }

  private unwrap(id: string, masterId: string, wrapped: Buffer): DataKey {
    const master = this.masters.find((m) => m.id === masterId);
    if (!master)
      throw new Error(
        `data key ${id} is wrapped under master key ${masterId}, which is not configured`,
      );
    return unwrapDataKey(master, id, wrapped);
  }
}

/**
 * Keys kept in memory for a while, so that reading a stream does not ask the table per event.
 * An erasure through this cache forgets the subject's keys at once; another process's cache
 * may still hold one for up to `ttlMs` (docs/privacy.md), which bounds how long after an
 * erasure a read elsewhere can still open a value. Lookups under way are shared: the fields
 * of one record, opened at once, ask the store once.
 */
export class CachedKeyStore implements KeyStore {
  private readonly byId = new Map<string, { value: Promise<DataKey | 'erased'>; until: number }>();
  private readonly current = new Map<
    string,
    { value: Promise<DataKey>; until: number; resolved?: DataKey }
  >();

  constructor(
    private readonly inner: KeyStore,
    private readonly ttlMs = 60_000,
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  keyFor(subject: string): Promise<DataKey> {
    const hit = this.current.get(subject);
    if (hit && hit.until > this.now()) return hit.value;
    const value = this.inner.keyFor(subject).then((key) => {
      this.remember(this.byId, key.id, Promise.resolve(key));
      const entry = this.current.get(subject);
      if (entry?.value === value) entry.resolved = key;
      return key;
    });
    this.remember(this.current, subject, value);
    // A failed lookup is not kept.
    value.catch(() => this.current.delete(subject));
    return value;
  }

  key(id: string): Promise<DataKey | 'erased'> {
    const hit = this.byId.get(id);
    if (hit && hit.until > this.now()) return hit.value;
    const value = this.inner.key(id);
    this.remember(this.byId, id, value);
    value.catch(() => this.byId.delete(id));
    return value;
  }

  keyForNow(subject: string): DataKey | undefined {
    const hit = this.current.get(subject);
    return hit && hit.until > this.now() ? hit.resolved : undefined;
  }

  async erase(subject: string): Promise<number> {
    this.forget(subject);
    return this.inner.erase(subject);
  }

  forget(subject: string): void {
    this.current.delete(subject);
    for (const id of [...this.byId.keys()])
      if (subjectOfKeyId(id) === subject) this.byId.delete(id);
  }

  private remember<V>(map: Map<string, { value: V; until: number }>, key: string, value: V) {
    if (map.size >= this.max) map.delete(map.keys().next().value as string);
    map.set(key, { value, until: this.now() + this.ttlMs });
  }
}
