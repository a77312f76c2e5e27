import type { Pool, PoolClient } from 'pg';

/** Where a read runs: the pool, or a transaction's client (it then sees the transaction's writes). */
export type Queryable = Pool | PoolClient;
