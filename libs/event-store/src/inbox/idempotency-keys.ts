// How long an HTTP command's Idempotency-Key is remembered (docs/api.md, Idempotency): its inbox
// row (consumer `http:<method> <route> <principal>`, written with the command's events) answers
// a retry with the first outcome until it is purged here, after the retention; a retry after
// that is a new request. Kafka consumers' inbox rows are not touched: a redelivered message
// must find its mark however late it comes.
import type { Pool } from 'pg';

/** The prefix of the inbox consumers that are HTTP routes (request-context.ts). */
export const HTTP_INBOX_PREFIX = 'http:';

/**
 * The literal prefix in the statement (not a parameter) lets the planner use the partial index
 * of migration 9. Deletes the HTTP idempotency keys older than `retentionMs`, at most `batch` rows a statement
 * (a long backlog is taken in several short transactions), and says how many went.
 */
export async function purgeIdempotencyKeys(
  pool: Pool,
  retentionMs: number,
  batch = 5_000,
): Promise<number> {
  let purged = 0;
  for (;;) {
    const { rowCount } = await pool.query(
      `DELETE FROM inbox WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM inbox
          WHERE consumer LIKE '${HTTP_INBOX_PREFIX}%'
            AND processed_at < now() - make_interval(secs => $1::double precision / 1000)
          LIMIT $2))`,
      [retentionMs, batch],
    );
    purged += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return purged;
  }
}
