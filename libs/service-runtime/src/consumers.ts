// The service's Kafka consumers: each an InboxConsumer (deduplicated, offsets after the effect,
// what can never be handled parked in the service's dead-letter store, and redriven through the
// same handlers: DeadLettersController), started once the app is up (retrying while Kafka is away) and stopped before the relay
// drains on shutdown, so every effect a consumer wrote is still published. A saga participant
// is one of them (@es/saga-participant's participantConsumer).
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import {
  postgresDeadLetters,
  postgresInbox,
  type EventRegistry,
  type PostgresEventStore,
} from '@es/event-store';
import {
  DeadLetterRedriver,
  InboxConsumer,
  eventEnvelopeSchema,
  registerKafkaGauges,
  type ConsumedMessage,
  type DeadLetterStore,
  type InboxRef,
} from '@es/messaging';
import type { ServiceMetrics } from '@es/observability';
import { EVENT_REGISTRY, EVENT_STORE } from './event-sourcing.module';
import { KAFKA } from './infrastructure';
import { PLATFORM_OPTIONS, SERVICE_METRICS, type PlatformOptions } from './platform.module';

export const MESSAGE_CONSUMERS = Symbol('MESSAGE_CONSUMERS');

export interface ConsumerDefinition {
  /** The consumer group (and inbox name); the service's name by default. */
  readonly groupId?: string;
  readonly topics: readonly string[];
  /** Must write its effect through the command handler with `inbox` (it deduplicates). */
  readonly handler: (message: ConsumedMessage, inbox: InboxRef) => Promise<void>;
  /** Partitions handled at once, each in order (default 6, all of them). */
  readonly concurrency?: number;
  /**
   * Keys of one partition's fetched batch handled at once, each key's messages in order
   * (default 16): their appends share the event store's group commit.
   */
  readonly keysConcurrently?: number;
}

@Injectable()
export class MessageConsumers implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('consumers');
  private readonly definitions: ConsumerDefinition[] = [];
  private readonly running: InboxConsumer[] = [];
  private readonly stopped = new AbortController();
  private stopGauges: (() => Promise<void>) | undefined;
  private stopping(): boolean {
    return this.stopped.signal.aborted;
  }
  private bootstrapped = false;
  private markStarted: (all: Promise<void>) => void = () => undefined;
  /** Settles once every consumer has joined its group (never, while Kafka is away). */
  private readonly started = new Promise<void>((resolve) => {
    this.markStarted = resolve;
  });

  /** The service's parked letters (its own database). */
  readonly deadLetters: DeadLetterStore;
  /** Redrives parked letters through the handlers registered here, upcast first. */
  readonly redriver: DeadLetterRedriver;

  constructor(
    @Inject(PLATFORM_OPTIONS) private readonly platform: PlatformOptions,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(EVENT_STORE) private readonly store: PostgresEventStore,
    @Inject(SERVICE_METRICS) private readonly metrics: ServiceMetrics,
    @Inject(EVENT_REGISTRY) private readonly registry: EventRegistry,
  ) {
    this.deadLetters = postgresDeadLetters(store.pool);
    this.redriver = new DeadLetterRedriver(this.deadLetters, postgresInbox(store), (consumer) => {
      const definition = this.definitions.find(
        (d) => (d.groupId ?? this.platform.serviceName) === consumer,
      );
      return definition && { handler: definition.handler, upcast: (m) => this.upcast(m) };
    });
  }

  /**
   * An event parked at an older schema version, as the relay would publish it now: upcast by
   * the service's registry (its own events' upcasters; another service's events pass as they
   * are, their upcasters applied by their relay).
   */
  private upcast(message: ConsumedMessage): ConsumedMessage {
    const envelope = eventEnvelopeSchema.safeParse(message.payload);
    if (!envelope.success) return message;
    const { type, schemaVersion, data } = envelope.data;
    const now = this.registry.upcast({ type, schemaVersion, data });
    if (now.schemaVersion === schemaVersion && now.type === type) return message;
    return {
      ...message,
      headers: {
        ...message.headers,
        ...('event-type' in message.headers ? { 'event-type': now.type } : {}),
        ...('schema-version' in message.headers
          ? { 'schema-version': String(now.schemaVersion) }
          : {}),
      },
      payload: { ...(message.payload as object), ...now },
    };
  }

  /** Registers a consumer; call it before the app has started (e.g. in onModuleInit). */
  consume(definition: ConsumerDefinition): void {
    if (this.bootstrapped) throw new Error('register consumers before the application starts');
    this.definitions.push(definition);
  }

  onApplicationBootstrap(): void {
    this.bootstrapped = true;
    // Lag and dead letters of these consumers, from the broker, at each scrape.
    this.stopGauges = registerKafkaGauges(
      this.metrics.meter,
      this.kafka,
      () =>
        this.definitions.map((d) => ({
          groupId: d.groupId ?? this.platform.serviceName,
          topics: d.topics,
        })),
      () => [...new Set(this.definitions.flatMap((d) => d.topics))],
    );
    this.metrics.meter
      .createObservableGauge('consumer_parked_messages', {
        description: 'Messages parked in the dead-letter store, by consumer and cause',
      })
      .addCallback(async (result) => {
        const counts = await this.deadLetters.parkedCounts().catch(() => undefined);
        if (!counts) return; // the database is away: no figure rather than a wrong one
        const consumers = new Set(
          this.definitions.map((d) => d.groupId ?? this.platform.serviceName),
        );
        for (const consumer of consumers)
          for (const cause of ['failed', 'behind'] as const)
            result.observe(
              counts.find((c) => c.consumer === consumer && c.cause === cause)?.count ?? 0,
              { consumer, cause },
            );
      });
    // Not awaited: with Kafka away the service still starts, and its consumers join later.
    this.markStarted(
      Promise.all(this.definitions.map((d) => this.startUntilRunning(d))).then(() => undefined),
    );
  }

  /** Resolves once every consumer has joined its group (never, while Kafka is away). */
  whenRunning(): Promise<void> {
    return this.started;
  }

  private async startUntilRunning(definition: ConsumerDefinition): Promise<void> {
    for (let attempt = 1; !this.stopping(); attempt++) {
      const consumer = new InboxConsumer(this.kafka, postgresInbox(this.store), {
        groupId: definition.groupId ?? this.platform.serviceName,
        topics: definition.topics,
        handler: definition.handler,
        partitionsConsumedConcurrently: definition.concurrency ?? 6,
        keysConcurrently: definition.keysConcurrently ?? 16,
        // Every handler here writes through the command handler, which checks the inbox under
        // the stream's lock: a check before it would be a second round trip per message.
        checkInboxFirst: false,
        meter: this.metrics.meter,
        onError: (error, message, tries) => {
          this.logger.warn(
            `${message.topic}/${message.partition}@${message.offset} failed (attempt ${tries}): ${error instanceof Error ? error.message : String(error)}`,
          );
        },
        onCommitError: (error) => {
          this.logger.warn(
            `committing handled offsets failed (retried): ${error instanceof Error ? error.message : String(error)}`,
          );
        },
      });
      try {
        this.running.push(consumer);
        await consumer.start();
        return;
      } catch (error) {
        this.running.splice(this.running.indexOf(consumer), 1);
        await consumer.stop().catch(() => undefined);
        if (this.stopping()) return;
        this.logger.warn(
          `consumer of ${definition.topics.join(', ')} not started (attempt ${attempt}): ${error instanceof Error ? error.message : String(error)}`,
        );
        // Cut short by shutdown (the abort rejects the wait; that is the point).
        await sleep(Math.min(10_000, 500 * attempt), undefined, {
          signal: this.stopped.signal,
        }).catch(() => undefined);
      }
    }
  }

  async onModuleDestroy(): Promise<void> {
    this.stopped.abort();
    // A consumer still joining its group is stopped once it has joined (or failed to).
    if (this.bootstrapped) await this.started;
    // Handlers in flight finish before disconnect returns; their effects then reach the relay.
    await Promise.allSettled(this.running.map((c) => c.stop()));
    await this.stopGauges?.();
  }
}
