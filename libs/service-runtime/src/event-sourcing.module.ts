// A service's write side: its event store (schema migrated on start), the command handler every
// NestJS command handler adapts, and the outbox relay publishing the service's database to Kafka
// (from logical decoding by default; OUTBOX_RELAY_MODE=polling reads the table instead).
// On shutdown (runService closes HTTP first, letting requests in flight finish), the relay
// publishes what is left, bounded in time, before the connections close.
import {
  Inject,
  Injectable,
  Logger,
  Module,
  type BeforeApplicationShutdown,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnModuleInit,
} from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import {
  CommandHandler,
  EventRegistry,
  PostgresEventStore,
  createRelay,
  MIGRATIONS,
  migrate,
  purgeIdempotencyKeys,
  type EventSchema,
  type Relay,
  type Upcaster,
} from '@es/event-store';
import { KafkaPublisher, TopicSettingsError, ensureTopics } from '@es/messaging';
import type { ServiceMetrics } from '@es/observability';
import {
  idempotencyConfig,
  postgresConfig,
  postgresMigrationConfig,
  relayConfig,
} from '@es/runtime-config';
import { KAFKA, PG_POOL } from './infrastructure';
import { PERSONAL_DATA, type PersonalData } from './personal-data';
import { Periodic } from './periodic';
import { PLATFORM_OPTIONS, SERVICE_METRICS, type PlatformOptions } from './platform.module';
import {
  REPUBLISH_EVENT_STORE,
  REPUBLISH_STREAMS,
  Republisher,
  type PublishedStream,
} from './republish';

export interface EventSourcingOptions {
  readonly schemas: readonly EventSchema[];
  readonly upcasters?: readonly Upcaster[];
  /** Topics this service publishes to; created (with their DLQs) on start when missing. */
  readonly topics: readonly string[];
  /**
   * The stream types it writes and their events' topics (its aggregates): what a republish
   * (republish.ts) publishes again, and where.
   */
  readonly streams: readonly PublishedStream[];
  /** How long shutdown waits for the relay to publish what is left. */
  readonly drainTimeoutMs?: number;
}

export const EVENT_STORE = Symbol('EVENT_STORE');
export const COMMAND_HANDLER = Symbol('COMMAND_HANDLER');
export const OUTBOX_RELAY = Symbol('OUTBOX_RELAY');
export const EVENT_REGISTRY = Symbol('EVENT_REGISTRY');
const EVENT_SOURCING_OPTIONS = Symbol('EVENT_SOURCING_OPTIONS');
const KAFKA_PUBLISHER = Symbol('KAFKA_PUBLISHER');

@Injectable()
class WriteSideLifecycle
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown
{
  private readonly logger = new Logger('event-sourcing');
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(OUTBOX_RELAY) private readonly relay: Relay,
    @Inject(KAFKA_PUBLISHER) private readonly publisher: KafkaPublisher,
    @Inject(EVENT_SOURCING_OPTIONS) private readonly options: EventSourcingOptions,
    @Inject(PLATFORM_OPTIONS) private readonly platform: PlatformOptions,
  ) {}

  private stopping = false;

  /** HTTP commands' idempotency keys past their retention, deleted (docs/api.md). */
  private readonly keyPurge = (() => {
    const { retentionMs, purgeEveryMs } = idempotencyConfig();
    return new Periodic(
      'idempotency key purge',
      purgeEveryMs,
      async () => {
        const purged = await purgeIdempotencyKeys(this.pool, retentionMs);
        if (purged > 0) this.logger.log(`purged ${purged} idempotency keys past their retention`);
      },
      this.logger,
    );
  })();

  async onModuleInit(): Promise<void> {
    await this.migrate();
    // Kafka may be down at start: the service still starts (live, not ready) and keeps trying;
    // until the topics exist the relay's publishes fail and are retried. With Kafka up, the
    // topics exist before the service takes requests.
    // A topic that exists with settings that would lose events is refused: at start, the
    // service does not start; found later (Kafka came back), it stops, saying which setting.
    let started = false;
    const ensured = this.ensureTopicsUntilDone().catch((error: unknown) => {
      if (!started) throw error;
      this.logger.error(
        `refusing to run: ${error instanceof Error ? error.message : String(error)}`,
      );
      process.exitCode = 1;
      process.kill(process.pid, 'SIGTERM');
    });
    try {
      await Promise.race([ensured, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    } finally {
      started = true;
    }
  }

  /**
   * The schema, migrated by its owner when PG_MIGRATION_USER names one (who then grants this
   * service's role what it needs, events append-only), else by the service's own role, which
   * on an up-to-date schema only reads what is applied.
   */
  private async migrate(): Promise<void> {
    const database = this.platform.postgres?.database;
    const owner = database === undefined ? undefined : postgresMigrationConfig(database);
    if (database === undefined || owner === undefined) {
      await migrate(this.pool);
      return;
    }
    const pool = new Pool({
      ...owner,
      max: 1,
      application_name: `${this.platform.serviceName}-migrate`,
    });
    pool.on('error', () => undefined);
    try {
      await migrate(pool, MIGRATIONS, { grantTo: postgresConfig(database).user });
    } finally {
      await pool.end();
    }
  }

  private async ensureTopicsUntilDone(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      const admin = this.kafka.admin();
      try {
        await admin.connect();
        await ensureTopics(admin, this.options.topics);
        return;
      } catch (error) {
        if (error instanceof TopicSettingsError) throw error; // no retry can fix a setting
        this.logger.warn(
          `topics ${this.options.topics.join(', ')} not ensured (attempt ${attempt}): ${error instanceof Error ? error.message : String(error)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * attempt)));
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    }
  }

  onApplicationBootstrap(): void {
    this.relay.start();
    this.keyPurge.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true; // not awaited: with Kafka down, an attempt can take its whole timeout
    await this.keyPurge.stop();
    try {
      const drained = await this.relay.drain(this.options.drainTimeoutMs ?? 5_000);
      if (!drained)
        this.logger.warn('outbox not drained at shutdown: the next leader publishes it');
    } finally {
      await this.relay.stop();
      await this.publisher.close().catch(() => undefined);
    }
  }
}

@Module({})
export class EventSourcingModule {
  static forRoot(options: EventSourcingOptions): DynamicModule {
    return {
      module: EventSourcingModule,
      global: true,
      providers: [
        { provide: EVENT_SOURCING_OPTIONS, useValue: options },
        {
          provide: EVENT_REGISTRY,
          useFactory: () => new EventRegistry(options.schemas, options.upcasters ?? []),
        },
        {
          provide: EVENT_STORE,
          inject: [PG_POOL, EVENT_REGISTRY, PERSONAL_DATA],
          useFactory: (pool: Pool | null, registry: EventRegistry, vault: PersonalData | null) => {
            if (!pool) throw new Error('EventSourcingModule needs PlatformModule with postgres');
            // Appends made while others are on their way share their transaction and round
            // trip (group-commit.ts): a consumer's batch of messages costs one commit. Personal
            // fields are sealed through the key vault (PlatformModule's personalData).
            return new PostgresEventStore(pool, registry, {
              groupCommit: true,
              ...(vault ? { privacy: vault.shredder } : {}),
            });
          },
        },
        {
          provide: COMMAND_HANDLER,
          inject: [EVENT_STORE, SERVICE_METRICS],
          useFactory: (store: PostgresEventStore, metrics: ServiceMetrics) =>
            new CommandHandler(store, { meter: metrics.meter }),
        },
        {
          provide: KAFKA_PUBLISHER,
          inject: [KAFKA],
          useFactory: (kafka: Kafka | null) => {
            if (!kafka) throw new Error('EventSourcingModule needs PlatformModule with kafka');
            return new KafkaPublisher(kafka);
          },
        },
        {
          provide: OUTBOX_RELAY,
          inject: [PLATFORM_OPTIONS, KAFKA_PUBLISHER, SERVICE_METRICS, EVENT_REGISTRY],
          useFactory: (
            platform: PlatformOptions,
            publisher: KafkaPublisher,
            metrics: ServiceMetrics,
            registry: EventRegistry,
          ) => {
            const database = platform.postgres?.database;
            if (!database) throw new Error('EventSourcingModule needs a postgres database');
            return createRelay(relayConfig().mode, postgresConfig(database), publisher, {
              name: platform.serviceName,
              registry,
              meter: metrics.meter,
            });
          },
        },
        WriteSideLifecycle,
        { provide: REPUBLISH_STREAMS, useValue: options.streams },
        { provide: REPUBLISH_EVENT_STORE, useExisting: EVENT_STORE },
        Republisher,
      ],
      exports: [
        EVENT_REGISTRY,
        EVENT_STORE,
        COMMAND_HANDLER,
        OUTBOX_RELAY,
        Republisher,
        REPUBLISH_STREAMS,
      ],
    };
  }
}
