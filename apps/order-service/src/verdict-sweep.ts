// No stranded order: whatever happened to its messages, an order that has no verdict finds one.
// Every order-service instance looks, every ORDER_VERDICT_SWEEP_MS, at the PENDING orders (the
// summary index's rows of the order type, oldest first: order.aggregate.ts) placed more than
// ORDER_VERDICT_NUDGE_MS ago:
// - nudged: its OrderCreated is published again from the event store, as the relay published it
//   (the same message id, republish.ts), once per interval however many instances look (an
//   inbox mark per order and attempt). The orchestrator starts its saga if it never saw it (a
//   topic that lost it, a consumer whose offsets moved past it); if it did, the message is a
//   duplicate and changes nothing; if it parked it, the nudge is parked with it (already
//   parked) and the order waits for the redrive or its deadline;
// - rejected at ORDER_VERDICT_DEADLINE_MS (reason NO_VERDICT): the order has its verdict, and a
//   saga still running for it compensates when its approval is refused (ORDER_NOT_PENDING).
// A saga that approves first wins the race on the order's stream: the sweep's rejection is then
// refused, and ignored. The sweep starts once the service's consumers read again, so decisions
// waiting in Kafka while it was down are applied before it rejects anything.
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  type OnModuleInit,
} from '@nestjs/common';
import type { Pool } from 'pg';
import { DomainError } from '@es/decider';
import {
  republishStream,
  type CommandHandler as EventStoreCommandHandler,
  type PostgresEventStore,
} from '@es/event-store';
import { AlreadyHandledError } from '@es/messaging';
import type { ServiceMetrics } from '@es/observability';
import { ORDER_STREAM_TYPE, ORDERS_EVENTS_TOPIC } from '@es/order-contracts';
import { orderVerdictConfig, type OrderVerdictConfig } from '@es/runtime-config';
import {
  COMMAND_HANDLER,
  EVENT_STORE,
  MessageConsumers,
  PG_POOL,
  Periodic,
  SERVICE_METRICS,
} from '@es/service-runtime';
import { orderAggregate } from './order.aggregate';

const BATCH = 200;
/** The sweep's name: its inbox marks, the actor of what it writes. */
export const VERDICT_SWEEP = 'order-verdict-sweep';

@Injectable()
export class VerdictSweep implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('verdict-sweep');
  private readonly config: OrderVerdictConfig = orderVerdictConfig();
  private readonly periodic = new Periodic(
    'verdict sweep',
    this.config.sweepEveryMs,
    () => this.sweep(),
    this.logger,
  );
  private readonly actions;
  private readonly seconds;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(EVENT_STORE) private readonly store: PostgresEventStore,
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
    @Inject(MessageConsumers) private readonly consumers: MessageConsumers,
    @Inject(SERVICE_METRICS) metrics: ServiceMetrics,
  ) {
    this.actions = metrics.meter.createCounter('order_verdict_sweep_actions_total', {
      description:
        'PENDING orders past ORDER_VERDICT_NUDGE_MS: nudged (OrderCreated again) or rejected',
    });
    this.seconds = metrics.meter.createHistogram('order_verdict_sweep_seconds', {
      description: 'One sweep: the query and its actions',
      unit: 's',
    });
    metrics.meter
      .createObservableGauge('orders_pending_oldest_seconds', {
        description: 'How long the oldest PENDING order has waited for its verdict',
        unit: 's',
      })
      .addCallback(async (result) => {
        const oldest = await this.oldestPending().catch(() => undefined);
        if (oldest !== undefined) result.observe(oldest);
      });
  }

  async onModuleInit(): Promise<void> {
    const n = await backfillOrderSummaries(this.pool);
    if (n > 0) this.logger.log(`summaries written for ${n} PENDING orders placed before them`);
  }

  onApplicationBootstrap(): void {
    void this.consumers.whenRunning().then(() => {
      this.periodic.start();
    });
  }

  onModuleDestroy(): Promise<void> {
    return this.periodic.stop();
  }

  /** Nudges or rejects every PENDING order past the nudge age (at most BATCH a sweep). */
  async sweep(now = new Date()): Promise<{ nudged: number; rejected: number }> {
    const started = performance.now();
    const { rows } = await this.pool.query<{ stream_id: string; due_at: Date }>(
      `SELECT stream_id, due_at FROM stream_summaries
        WHERE stream_type = $1 AND due_at IS NOT NULL AND due_at <= $2
        ORDER BY due_at LIMIT ${BATCH}`,
      [ORDER_STREAM_TYPE, new Date(now.getTime() - this.config.nudgeAfterMs)],
    );
    let nudged = 0;
    let rejected = 0;
    for (const row of rows) {
      if (!this.periodic.active) break;
      const age = now.getTime() - row.due_at.getTime();
      if (age >= this.config.deadlineMs) {
        if (await this.reject(row.stream_id, now)) rejected++;
      } else {
        const attempt = Math.floor((age - this.config.nudgeAfterMs) / this.config.nudgeAfterMs) + 1;
        if (await this.nudge(row.stream_id, attempt)) nudged++;
      }
    }
    this.seconds.record((performance.now() - started) / 1000);
    return { nudged, rejected };
  }

  /** Its OrderCreated again, once per attempt across instances; false if done already. */
  private async nudge(orderId: string, attempt: number): Promise<boolean> {
    try {
      await republishStream(
        this.store,
        { type: ORDER_STREAM_TYPE, id: orderId },
        { fromVersion: 1, toVersion: 1 },
        {
          topicOf: () => ORDERS_EVENTS_TOPIC,
          metadata: {
            correlationId: `${VERDICT_SWEEP}:${orderId}`,
            causationId: `${VERDICT_SWEEP}:${orderId}/${attempt}`,
            actor: VERDICT_SWEEP,
          },
          headers: { 'verdict-sweep-attempt': String(attempt) },
          inbox: { consumer: VERDICT_SWEEP, messageId: `${orderId}/${attempt}` },
        },
      );
    } catch (error) {
      if (error instanceof AlreadyHandledError) return false;
      throw error;
    }
    this.actions.add(1, { action: 'nudged' });
    this.logger.warn(
      `order ${orderId} has no verdict yet: its OrderCreated published again (attempt ${attempt})`,
    );
    return true;
  }

  /** The order's verdict when no saga gave one in time; false if it has one now. */
  private async reject(orderId: string, now: Date): Promise<boolean> {
    const seconds = Math.round(this.config.deadlineMs / 1000);
    try {
      const result = await this.handler.handle(
        orderAggregate,
        orderId,
        {
          type: 'RejectOrder',
          reason: `NO_VERDICT: no saga decided within ${seconds} s`,
          at: now.toISOString(),
        },
        {
          metadata: {
            correlationId: `${VERDICT_SWEEP}:${orderId}`,
            causationId: `${VERDICT_SWEEP}:${orderId}/reject`,
            actor: VERDICT_SWEEP,
          },
        },
      );
      if (result.eventIds.length === 0) return false;
    } catch (error) {
      if (error instanceof DomainError) return false; // approved or cancelled meanwhile
      throw error;
    }
    this.actions.add(1, { action: 'rejected' });
    this.logger.warn(`order ${orderId} rejected: no verdict within ${seconds} s`);
    return true;
  }

  private async oldestPending(): Promise<number> {
    const { rows } = await this.pool.query<{ age: number | null }>(
      `SELECT extract(epoch FROM now() - min(due_at))::float8 AS age FROM stream_summaries
        WHERE stream_type = $1 AND due_at IS NOT NULL`,
      [ORDER_STREAM_TYPE],
    );
    return Math.max(0, rows[0]?.age ?? 0);
  }
}

/**
 * The summary rows of PENDING orders placed before orders had them (an existing store): from
 * their OrderCreated, for orders with no later event. Once written, nothing is left to do.
 */
export async function backfillOrderSummaries(pool: Pool): Promise<number> {
  const { rowCount } = await pool.query(
    `INSERT INTO stream_summaries (stream_type, stream_id, stream_version, status, step, due_at, started_at)
     SELECT e.stream_type, e.stream_id, 1, 'PENDING', NULL,
            (e.data->>'createdAt')::timestamptz, (e.data->>'createdAt')::timestamptz
       FROM events e
      WHERE e.stream_type = $1 AND e.stream_version = 1
        AND NOT EXISTS (SELECT 1 FROM events v WHERE v.stream_type = e.stream_type
                          AND v.stream_id = e.stream_id AND v.stream_version = 2)
        AND NOT EXISTS (SELECT 1 FROM stream_summaries s WHERE s.stream_type = e.stream_type
                          AND s.stream_id = e.stream_id)
     ON CONFLICT (stream_type, stream_id) DO NOTHING`,
    [ORDER_STREAM_TYPE],
  );
  return rowCount ?? 0;
}
