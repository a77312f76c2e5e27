// What every service shares: engine connections (by token), health, metrics, and their
// orderly release on shutdown. Each app imports PlatformModule.forRoot() once.
import {
  Controller,
  Inject,
  Injectable,
  Module,
  Req,
  Res,
  type DynamicModule,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Response } from 'express';
import { liveness, metrics, readiness, type readinessSchema } from '@es/http-api';
import type { z } from '@es/schema';
import type { Kafka } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import type { Pool } from 'pg';
import { createServiceMetrics, type ServiceMetrics } from '@es/observability';
import { ReadModels } from '@es/read-models';
import { mongoConfig, readModelConfig } from '@es/runtime-config';
import { Route } from './http/operation';
import {
  KAFKA,
  MONGO_CLIENT,
  PG_POOL,
  createKafka,
  createMongoClient,
  createPostgresPool,
} from './infrastructure';
import { PERSONAL_DATA, personalDataProviders, type PersonalData } from './personal-data';
import {
  kafkaReadiness,
  mongoReadiness,
  postgresReadiness,
  runChecks,
  type ReadinessCheck,
} from './readiness';

export interface PlatformOptions {
  /** The service's name in logs, metrics and client ids, e.g. `order-service`. */
  readonly serviceName: string;
  /** The service's own Postgres database, if it has one. */
  readonly postgres?: { readonly database: string };
  readonly kafka?: boolean;
  readonly mongo?: boolean;
  /**
   * It writes or reads personal data: the key vault (personal-data.ts), migrated at start;
   * the service does not start without the master keys (PRIVACY_MASTER_KEYS).
   */
  readonly personalData?: boolean;
  readonly readinessTimeoutMs?: number;
}

export const PLATFORM_OPTIONS = Symbol('PLATFORM_OPTIONS');
export const SERVICE_METRICS = Symbol('SERVICE_METRICS');
export const READINESS_CHECKS = Symbol('READINESS_CHECKS');
/** The read models (MongoDB), for query handlers; null in a service without `mongo`. */
export const READ_MODELS = Symbol('READ_MODELS');

@Controller()
class HealthController {
  constructor(
    @Inject(PLATFORM_OPTIONS) private readonly options: PlatformOptions,
    @Inject(READINESS_CHECKS) private readonly checks: readonly ReadinessCheck[],
  ) {}

  @Route(liveness)
  live(): { status: 'live'; service: string } {
    return { status: 'live', service: this.options.serviceName };
  }

  /** 200 when every required engine answers, else 503; the same body says which. */
  @Route(readiness)
  async ready(
    @Res({ passthrough: true }) response: Response,
  ): Promise<z.output<typeof readinessSchema>> {
    const report = await runChecks(this.checks, this.options.readinessTimeoutMs ?? 2_000);
    if (!report.ready) response.status(503);
    return {
      status: report.ready ? 'ready' : 'not ready',
      service: this.options.serviceName,
      checks: report.checks,
    };
  }
}

@Controller()
class MetricsController {
  constructor(@Inject(SERVICE_METRICS) private readonly metrics: ServiceMetrics) {}

  @Route(metrics)
  serve(@Req() request: IncomingMessage, @Res() response: ServerResponse): void {
    this.metrics.serve(request, response);
  }
}

@Injectable()
class InfrastructureLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(READINESS_CHECKS) private readonly checks: readonly ReadinessCheck[],
    @Inject(SERVICE_METRICS) private readonly metrics: ServiceMetrics,
    @Inject(PG_POOL) private readonly pool: Pool | null,
    @Inject(MONGO_CLIENT) private readonly mongo: MongoClient | null,
    @Inject(PERSONAL_DATA) private readonly vault: PersonalData | null,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([
      ...this.checks.map((c) => c.close?.()),
      this.pool?.end(),
      this.vault?.pool.end(),
      this.mongo?.close(),
      this.metrics.shutdown(),
    ]);
  }
}

@Module({})
export class PlatformModule {
  static forRoot(options: PlatformOptions): DynamicModule {
    const providers: Provider[] = [
      { provide: PLATFORM_OPTIONS, useValue: options },
      { provide: SERVICE_METRICS, useFactory: () => createServiceMetrics(options.serviceName) },
      {
        provide: PG_POOL,
        useFactory: () =>
          options.postgres
            ? createPostgresPool(options.postgres.database, options.serviceName)
            : null,
      },
      {
        provide: KAFKA,
        useFactory: () => (options.kafka ? createKafka(options.serviceName) : null),
      },
      {
        provide: MONGO_CLIENT,
        useFactory: () => (options.mongo ? createMongoClient(options.serviceName) : null),
      },
      {
        provide: READ_MODELS,
        inject: [MONGO_CLIENT],
        useFactory: (mongo: MongoClient | null) =>
          mongo
            ? new ReadModels(mongo.db(mongoConfig().database), {
                defaultTimeoutMs: readModelConfig().consistencyWaitMs,
                operationTimeoutMs: readModelConfig().operationTimeoutMs,
              })
            : null,
      },
      {
        provide: READINESS_CHECKS,
        inject: [PG_POOL, KAFKA, MONGO_CLIENT, PERSONAL_DATA],
        useFactory: (
          pool: Pool | null,
          kafka: Kafka | null,
          mongo: MongoClient | null,
          vault: PersonalData | null,
        ) => [
          ...(pool ? [postgresReadiness(pool)] : []),
          ...(vault ? [vault.readiness()] : []),
          // With PostgreSQL, the service has an outbox: its commands are taken while Kafka is
          // away and published when it is back, so Kafka down does not make it unready.
          ...(kafka ? [kafkaReadiness(kafka, { required: !pool })] : []),
          ...(mongo ? [mongoReadiness(mongo)] : []),
        ],
      },
      ...personalDataProviders(options.serviceName, options.personalData === true),
      InfrastructureLifecycle,
    ];
    return {
      module: PlatformModule,
      global: true,
      controllers: [HealthController, MetricsController],
      providers,
      exports: [
        PLATFORM_OPTIONS,
        SERVICE_METRICS,
        PG_POOL,
        KAFKA,
        MONGO_CLIENT,
        READ_MODELS,
        PERSONAL_DATA,
      ],
    };
  }
}
