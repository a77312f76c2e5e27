// Deadlines, stored durably: a running saga's summary row holds when its wait ends (`due_at`,
// written by the saga's own append). Every instance scans for due sagas and tells each the time; the saga decides on its stored
// state, so a deadline already met, or handled by another instance, changes nothing (a race
// between instances is an optimistic-concurrency retry, not a double step).
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { Pool } from 'pg';
import type { CommandHandler as EventStoreCommandHandler } from '@es/event-store';
import { orderSaga } from '@es/saga';
import { COMMAND_HANDLER, MessageConsumers, PG_POOL } from '@es/service-runtime';
import { orderSagaAggregate } from './order-saga.aggregate';

const SCAN_EVERY_MS = 200;
const BATCH = 200;

@Injectable()
export class DeadlineScanner implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('deadlines');
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
    @Inject(MessageConsumers) private readonly consumers: MessageConsumers,
  ) {}

  async onModuleInit(): Promise<void> {
    await backfillSummaries(this.pool);
  }

  onApplicationBootstrap(): void {
    const tick = () => {
      if (this.stopped) return;
      this.scanning = this.scan()
        .catch((error: unknown) => {
          this.logger.warn(
            `deadline scan failed: ${error instanceof Error ? error.message : String(error)}`,
          );
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, SCAN_EVERY_MS);
        });
    };
    // Not before the consumers read again: replies that came while this instance was down are
    // waiting in Kafka, and a deadline must not pass over an answer that is there to be read.
    void this.consumers.whenRunning().then(tick);
  }

  /** Tells every saga whose deadline has passed. */
  private async scan(now = new Date()): Promise<void> {
    const at = now.toISOString();
    // Only sagas with a pending wait are indexed (stream_summaries_due): a handful of rows.
    const { rows } = await this.pool.query<{ stream_id: string }>(
      `SELECT stream_id FROM stream_summaries
        WHERE stream_type = $1 AND due_at IS NOT NULL AND due_at <= $2
        ORDER BY due_at LIMIT ${BATCH}`,
      [orderSaga.type, at],
    );
    await Promise.all(
      rows.map(({ stream_id: sagaId }) =>
        this.handler
          .handle(
            orderSagaAggregate,
            sagaId,
            { type: 'CheckDeadline', at },
            { metadata: { correlationId: sagaId, causationId: null, actor: 'saga-deadlines' } },
          )
          .catch((error: unknown) => {
            this.logger.warn(
              `deadline of saga ${sagaId} not handled: ${error instanceof Error ? error.message : String(error)}`,
            );
          }),
      ),
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.scanning;
  }
}

/**
 * Sagas written before their appends kept summary rows (event store migration 5) get one, once:
 * read from their last snapshot (then taken at every event) when this database has no saga
 * summary yet. Runs before the consumers and the scan start.
 */
export async function backfillSummaries(pool: Pool): Promise<number> {
  const { rowCount } = await pool.query(
    `INSERT INTO stream_summaries (stream_type, stream_id, stream_version, status, step, due_at, started_at)
     SELECT s.stream_type, s.stream_id, s.stream_version, s.state->>'status',
            CASE WHEN s.state->>'status' IN ('COMPLETED', 'COMPENSATED') THEN NULL
                 ELSE ($2::text[])[(s.state->>'step')::int + 1] END,
            (s.state->>'deadlineAt')::timestamptz, (s.state->>'startedAt')::timestamptz
       FROM snapshots s
      WHERE s.stream_type = $1
        AND NOT EXISTS (SELECT 1 FROM stream_summaries WHERE stream_type = $1)
     ON CONFLICT DO NOTHING`,
    [orderSaga.type, orderSaga.steps.map((step) => step.name)],
  );
  return rowCount ?? 0;
}
