// Deadlines, stored durably: a running saga's snapshot holds when its wait ends (`deadlineAt`).
// Every instance scans for due sagas and tells each the time; the saga decides on its stored
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
    // Only sagas with a pending wait are indexed: the scan reads a handful of rows.
    await this.pool.query(
      `CREATE INDEX IF NOT EXISTS snapshots_saga_deadline ON snapshots ((state->>'deadlineAt'))
       WHERE stream_type = '${orderSaga.type}' AND state->>'deadlineAt' IS NOT NULL`,
    );
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
    const { rows } = await this.pool.query<{ stream_id: string }>(
      `SELECT stream_id FROM snapshots
        WHERE stream_type = $1 AND state->>'deadlineAt' IS NOT NULL AND state->>'deadlineAt' <= $2
        ORDER BY state->>'deadlineAt' LIMIT ${BATCH}`,
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
