// Deadlines, stored durably: a running saga's summary row holds when its wait ends (`due_at`,
// written by the saga's own append). Every instance scans for due sagas of every type and tells
// each the time; the saga decides on its stored state, so a deadline already met, or handled by
// another instance, changes nothing (a race between instances is an optimistic-concurrency
// retry, not a double step). The same scan releases held sagas (a cancellation WAITING for its
// order's saga) whose predecessor has completed: read from the summary rows, so no wake-up is lost
// to a crash or a race between the two sagas' appends.
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
import { COMMAND_HANDLER, MessageConsumers, PG_POOL, Periodic } from '@es/service-runtime';
import { SAGAS, registeredSaga, type RegisteredSaga } from './saga.aggregates';

const SCAN_EVERY_MS = 200;
const BATCH = 200;

@Injectable()
export class DeadlineScanner implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('deadlines');
  private readonly periodic = new Periodic(
    'deadline scan',
    SCAN_EVERY_MS,
    () => this.scan(),
    this.logger,
  );

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
    @Inject(MessageConsumers) private readonly consumers: MessageConsumers,
  ) {}

  async onModuleInit(): Promise<void> {
    await backfillSummaries(this.pool);
  }

  onApplicationBootstrap(): void {
    // Not before the consumers read again: replies that came while this instance was down are
    // waiting in Kafka, and a deadline must not pass over an answer that is there to be read.
    void this.consumers.whenRunning().then(() => {
      this.periodic.start();
    });
  }

  /** Tells every saga whose deadline has passed the time, and releases held sagas now free. */
  private async scan(now = new Date()): Promise<void> {
    const at = now.toISOString();
    // Only sagas with a pending wait are indexed (stream_summaries_due): a handful of rows.
    const { rows: due } = await this.pool.query<{ stream_type: string; stream_id: string }>(
      `SELECT stream_type, stream_id FROM stream_summaries
        WHERE stream_type = ANY($1) AND due_at IS NOT NULL AND due_at <= $2
        ORDER BY due_at LIMIT ${BATCH}`,
      [[...SAGAS.keys()], at],
    );
    const released = await this.releasable();
    await Promise.all([
      ...due.map((row) => this.tell(row.stream_type, row.stream_id, { type: 'CheckDeadline', at })),
      ...released.map((row) =>
        this.tell(row.stream_type, row.stream_id, { type: 'ReleaseSaga', at }),
      ),
    ]);
  }

  /** Held sagas whose predecessor (same id, its `startsAfter` type) has completed. */
  private async releasable(): Promise<{ stream_type: string; stream_id: string }[]> {
    const held = [...SAGAS.values()].filter(
      (s): s is RegisteredSaga & { definition: { startsAfter: string } } =>
        s.definition.startsAfter !== undefined,
    );
    const found = await Promise.all(
      held.map(async ({ definition }) => {
        // Few rows: WAITING sagas, by the (stream_type, status) index, each joined on its key.
        const { rows } = await this.pool.query<{ stream_type: string; stream_id: string }>(
          `SELECT w.stream_type, w.stream_id
             FROM stream_summaries w
             JOIN stream_summaries p ON p.stream_type = $2 AND p.stream_id = w.stream_id
            WHERE w.stream_type = $1 AND w.status = 'WAITING'
              AND p.status = 'COMPLETED'
            LIMIT ${BATCH}`,
          [definition.type, definition.startsAfter],
        );
        return rows;
      }),
    );
    return found.flat();
  }

  private tell(
    type: string,
    sagaId: string,
    message: { type: 'CheckDeadline' | 'ReleaseSaga'; at: string },
  ): Promise<unknown> {
    const saga = registeredSaga(type);
    if (!saga) return Promise.resolve();
    return this.handler
      .handle(saga.aggregate, sagaId, message, {
        metadata: { correlationId: sagaId, causationId: null, actor: 'saga-deadlines' },
      })
      .catch((error: unknown) => {
        this.logger.warn(
          `${message.type} of ${type} ${sagaId} not handled: ${error instanceof Error ? error.message : String(error)}`,
        );
      });
  }

  onModuleDestroy(): Promise<void> {
    return this.periodic.stop();
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
