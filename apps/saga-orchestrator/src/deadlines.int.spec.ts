// The saga summaries on real PostgreSQL: a saga written before its appends kept a summary row
// gets one from its last snapshot, once.
import { migrate } from '@es/event-store';
import { orderSaga } from '@es/saga';
import { createTestDatabase, type TestDatabase } from '@es/testing';
import { backfillSummaries } from './deadlines';

describe('saga summaries (real PostgreSQL)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('saga_summaries');
    await migrate(db.pool);
  });
  afterAll(async () => {
    await db.drop();
  });

  it('backfills the summaries of sagas snapshotted before, once, with their step names and deadlines', async () => {
    const snapshot = (id: string, state: object) =>
      db.pool.query(
        `INSERT INTO snapshots (stream_type, stream_id, stream_version, schema_version, state)
         VALUES ($1, $2, 3, 1, $3)`,
        [orderSaga.type, id, JSON.stringify(state)],
      );
    await snapshot('waiting', {
      status: 'RUNNING',
      step: 1,
      deadlineAt: '2026-01-01T00:00:10.000Z',
      startedAt: '2026-01-01T00:00:00.000Z',
    });
    await snapshot('done', { status: 'COMPLETED', startedAt: '2026-01-01T00:00:00.000Z' });
    expect(await backfillSummaries(db.pool)).toBe(2);
    const { rows } = await db.pool.query<{ id: string; status: string; step: string | null }>(
      `SELECT stream_id AS id, status, step, due_at IS NOT NULL AS due FROM stream_summaries ORDER BY 1`,
    );
    expect(rows).toEqual([
      { id: 'done', status: 'COMPLETED', step: null, due: false },
      { id: 'waiting', status: 'RUNNING', step: orderSaga.steps[1]?.name, due: true },
    ]);
    // Once: with summaries there, nothing is read from snapshots again.
    await snapshot('later', { status: 'RUNNING', step: 0, startedAt: '2026-01-01T00:00:00.000Z' });
    expect(await backfillSummaries(db.pool)).toBe(0);
  });
});
