// The sequenced dead-letter store (@es/messaging's DeadLetterStore) in the service's event store
// database: the dead_letters table (schema.ts, migration 7). Two advisory locks per sequence
// (consumer, topic, key), in the two-key form so they never meet a one-key lock:
// - SEQUENCE_LOCK, held for a transaction: parking a letter and resolving one (redriven,
//   discarded) of the same sequence take it, so a message that arrives behind a sequence while
//   its last letter is being resolved is either parked behind it (and redriven next) or, once
//   the sequence is empty, handled as any other; never handled ahead of a parked one;
// - REDRIVE_CLAIM, held by a session for a whole redrive of the sequence: one redrive at a time,
//   across the service's instances, without holding up the consumer's parking meanwhile.
import type { Pool, PoolClient } from 'pg';
import type {
  DeadLetterFilter,
  DeadLetterRecord,
  DeadLetterStore,
  NewDeadLetter,
  ParkCause,
  ParkOutcome,
  Sequence,
} from '@es/messaging';
import { OUTBOX_WAKE_LOCK } from '../outbox/outbox-message';
import { uuidv7 } from '../store/uuid';

const SEQUENCE_LOCK = 1163087716;
const REDRIVE_CLAIM = 1163087717;

/** The sequence as the advisory locks' second key. */
const sequenceText = (s: { consumer: string; topic: string; key: string }) =>
  `${s.consumer}\u001f${s.topic}\u001f${s.key}`;

interface Row {
  id: string;
  consumer: string;
  topic: string;
  message_key: string;
  message_id: string;
  kafka_partition: number;
  kafka_offset: string;
  headers: Record<string, string>;
  payload: unknown;
  raw: boolean;
  cause: ParkCause;
  error: string | null;
  attempts: number;
  status: DeadLetterRecord['status'];
  parked_at: Date;
  resolved_at: Date | null;
  resolution: string | null;
  resolved_by: string | null;
}

const record = (r: Row): DeadLetterRecord => ({
  id: r.id,
  consumer: r.consumer,
  topic: r.topic,
  partition: r.kafka_partition,
  offset: r.kafka_offset,
  key: r.message_key,
  messageId: r.message_id,
  headers: r.headers,
  payload: r.payload,
  raw: r.raw,
  cause: r.cause,
  error: r.error,
  attempts: r.attempts,
  status: r.status,
  parkedAt: r.parked_at,
  resolvedAt: r.resolved_at,
  resolution: r.resolution,
  resolvedBy: r.resolved_by,
});

/** One transaction holding the sequence's lock. */
async function inSequence<T>(
  pool: Pool,
  sequence: { consumer: string; topic: string; key: string },
  work: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(${SEQUENCE_LOCK}, hashtext($1))`, [
      sequenceText(sequence),
    ]);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.removeListener('error', onError);
    client.release(broken);
  }
}

export function postgresDeadLetters(pool: Pool): DeadLetterStore {
  const byId = async (id: string) => {
    const { rows } = await pool.query<Row>('SELECT * FROM dead_letters WHERE id = $1', [id]);
    return rows[0];
  };
  const asSequence = (r: Row) => ({ consumer: r.consumer, topic: r.topic, key: r.message_key });
  /** Resolves a parked letter under its sequence's lock; false if it was not parked. */
  const resolve = async (
    id: string,
    status: 'redriven' | 'discarded',
    resolution: string,
    by: string | null,
  ): Promise<boolean> => {
    const found = await byId(id);
    if (!found) return false;
    return inSequence(pool, asSequence(found), async (client) => {
      const { rowCount } = await client.query(
        `UPDATE dead_letters SET status = $2, resolution = $3, resolved_by = $4, resolved_at = now()
          WHERE id = $1 AND status = 'parked'`,
        [id, status, resolution, by],
      );
      if (rowCount !== 1) return false;
      // A discarded message is marked handled, so a redelivery of it has no effect either.
      if (status === 'discarded')
        await client.query(
          `INSERT INTO inbox (consumer, message_id, result) VALUES ($1, $2, $3)
           ON CONFLICT (consumer, message_id) DO NOTHING`,
          [found.consumer, found.message_id, { discarded: true, reason: resolution }],
        );
      return true;
    });
  };

  return {
    park: (letter: NewDeadLetter, behindOnly: boolean): Promise<ParkOutcome> =>
      inSequence(pool, letter, async (client) => {
        if (behindOnly) {
          const { rows } = await client.query<{ parked: boolean }>(
            `SELECT EXISTS (SELECT 1 FROM dead_letters WHERE consumer = $1 AND topic = $2
               AND message_key = $3 AND status = 'parked') AS parked`,
            [letter.consumer, letter.topic, letter.key],
          );
          if (!rows[0]?.parked) return 'not-parked';
        }
        const { rows } = await client.query<{ id: string }>(
          `INSERT INTO dead_letters (consumer, topic, message_key, message_id, kafka_partition,
             kafka_offset, headers, payload, raw, cause, error, attempts)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
           ON CONFLICT (consumer, message_id) DO NOTHING RETURNING id`,
          [
            letter.consumer,
            letter.topic,
            letter.key,
            letter.messageId,
            letter.partition,
            letter.offset,
            letter.headers,
            JSON.stringify(letter.payload),
            letter.raw,
            letter.cause,
            letter.error,
            letter.attempts,
          ],
        );
        const id = rows[0]?.id;
        if (id === undefined) return 'already-parked';
        if (letter.cause === 'failed') {
          // Its notice on the dead-letter topic, published by the relay after the commit, which
          // it wakes if it sleeps (as an append does, append-statement.ts).
          await client.query(
            `INSERT INTO outbox (topic, message_key, message_id, headers, payload)
             VALUES ($1, $2, $3, $4, $5)`,
            [
              letter.noticeTopic,
              letter.key === '' ? letter.messageId : letter.key,
              uuidv7(),
              { ...letter.noticeHeaders, 'dlq-letter-id': id },
              JSON.stringify(letter.payload),
            ],
          );
          await client.query(
            `SELECT CASE WHEN pg_try_advisory_xact_lock_shared(${OUTBOX_WAKE_LOCK}) THEN true
                    ELSE pg_notify('outbox', '') IS NOT NULL END`,
          );
        }
        return 'parked';
      }),

    parkedSequences: async (consumer) => {
      const { rows } = await pool.query<{ topic: string; message_key: string }>(
        `SELECT DISTINCT topic, message_key FROM dead_letters
          WHERE consumer = $1 AND status = 'parked'`,
        [consumer],
      );
      return rows.map((r) => ({ consumer, topic: r.topic, key: r.message_key }));
    },

    list: async (filter: DeadLetterFilter) => {
      const where: string[] = [];
      const values: unknown[] = [];
      const add = (column: string, value: string | undefined, op = '=') => {
        if (value === undefined) return;
        values.push(value);
        where.push(`${column} ${op} $${values.length}`);
      };
      add('consumer', filter.consumer);
      add('topic', filter.topic);
      add('message_key', filter.key);
      add('status', filter.status);
      add('id', filter.after, '>');
      values.push(filter.limit);
      const { rows } = await pool.query<Row>(
        `SELECT * FROM dead_letters ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
          ORDER BY id LIMIT $${values.length}`,
        values,
      );
      return rows.map(record);
    },

    get: async (id) => {
      const row = await byId(id);
      return row && record(row);
    },

    head: async (s: Sequence) => {
      const { rows } = await pool.query<Row>(
        `SELECT * FROM dead_letters WHERE consumer = $1 AND topic = $2 AND message_key = $3
           AND status = 'parked' ORDER BY id LIMIT 1`,
        [s.consumer, s.topic, s.key],
      );
      return rows[0] && record(rows[0]);
    },

    parkedOf: async (s: Sequence, limit: number) => {
      const { rows } = await pool.query<Row>(
        `SELECT * FROM dead_letters WHERE consumer = $1 AND topic = $2 AND message_key = $3
           AND status = 'parked' ORDER BY id LIMIT $4`,
        [s.consumer, s.topic, s.key, limit],
      );
      return rows.map(record);
    },

    parkedCount: async ({ consumer, topic, key }) => {
      const { rows } = await pool.query<{ count: string }>(
        `SELECT count(*) AS count FROM dead_letters WHERE consumer = $1 AND status = 'parked'
           AND ($2::text IS NULL OR topic = $2) AND ($3::text IS NULL OR message_key = $3)`,
        [consumer, topic ?? null, key ?? null],
      );
      return Number(rows[0]?.count ?? 0);
    },

    parkedCounts: async () => {
      const { rows } = await pool.query<{ consumer: string; cause: ParkCause; count: string }>(
        `SELECT consumer, cause, count(*) AS count FROM dead_letters WHERE status = 'parked'
          GROUP BY consumer, cause`,
      );
      return rows.map((r) => ({ consumer: r.consumer, cause: r.cause, count: Number(r.count) }));
    },

    claim: async (s: Sequence) => {
      const client = await pool.connect();
      const key = sequenceText(s);
      try {
        const { rows } = await client.query<{ held: boolean }>(
          `SELECT pg_try_advisory_lock(${REDRIVE_CLAIM}, hashtext($1)) AS held`,
          [key],
        );
        if (!rows[0]?.held) {
          client.release();
          return undefined;
        }
      } catch (error) {
        client.release(true);
        throw error;
      }
      return async () => {
        try {
          await client.query(`SELECT pg_advisory_unlock(${REDRIVE_CLAIM}, hashtext($1))`, [key]);
          client.release();
        } catch {
          client.release(true); // the session goes, and its lock with it
        }
      };
    },

    redriven: (id, resolution, by) => resolve(id, 'redriven', resolution, by),

    failedAgain: async (id, error) => {
      await pool.query(
        `UPDATE dead_letters SET error = $2, attempts = attempts + 1 WHERE id = $1 AND status = 'parked'`,
        [id, error.slice(0, 2_000)],
      );
    },

    discard: (id, reason, by) => resolve(id, 'discarded', reason, by),
  };
}
