// The append's statements through pg's own Query, with the same contract as text-rows.ts (rows
// as text, one transaction for several statements, BatchStatementError naming the one that
// failed, a connection given back after a server's error and closed after a lost one). It is
// the fallback should a pg upgrade change the internals text-rows.ts drives
// (`EventStoreOptions.wire: 'pg'`), and the baseline text-rows.ts is measured against
// (`npm run bench -- append`: "store, plain pg"). Several statements cost BEGIN and COMMIT
// round trips here, where text-rows.ts sends them all under one Sync.
import type { Client, Pool, PoolClient, QueryConfig } from 'pg';
import { BatchStatementError, onPooledClient, type TextRow, type TextRowsItem } from './text-rows';

/** Every column as the server sent it, as text text-rows.ts returns it. */
const asText = { getTypeParser: () => (value: string) => value };

function run(client: PoolClient | Client, { statement, values }: TextRowsItem): Promise<TextRow[]> {
  const config: QueryConfig & { rowMode: 'array'; types: typeof asText } = {
    text: statement.text,
    values: [...values],
    rowMode: 'array',
    types: asText,
    ...(statement.name ? { name: statement.name } : {}),
  };
  return client.query<TextRow>(config).then((result) => result.rows);
}

async function each(
  client: PoolClient | Client,
  items: readonly TextRowsItem[],
): Promise<TextRow[][]> {
  const results: TextRow[][] = [];
  for (const [index, item] of items.entries()) {
    try {
      results.push(await run(client, item));
    } catch (error) {
      throw items.length > 1 ? new BatchStatementError(index, error as Error) : error;
    }
  }
  return results;
}

/** queryTextRowsBatch's contract through pg's Query: see text-rows.ts. */
export async function queryPlainRowsBatch(
  db: Pool | PoolClient | Client,
  items: readonly TextRowsItem[],
): Promise<TextRow[][]> {
  if (!('totalCount' in db)) return each(db, items); // the caller's transaction
  return onPooledClient(db, async (client, lose) => {
    if (items.length === 1) return each(client, items);
    await client.query('BEGIN');
    try {
      const results = await each(client, items);
      await client.query('COMMIT');
      return results;
    } catch (error) {
      // A connection that cannot even roll back is not given back to the pool.
      await client.query('ROLLBACK').catch((rollback: unknown) => {
        lose(rollback as Error);
      });
      throw error;
    }
  });
}
