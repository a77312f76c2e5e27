// The projection host as a Nest provider: started once the app is up (retrying while Kafka or
// MongoDB is away, so the service is live and reports not-ready meanwhile), stopped on shutdown
// before the connections close.
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka } from 'kafkajs';
import type { MongoClient } from 'mongodb';
import type { ServiceMetrics } from '@es/observability';
import { registerKafkaGauges } from '@es/messaging';
import { ProjectionHost } from '@es/read-models';
import { mongoConfig } from '@es/runtime-config';
import { KAFKA, MONGO_CLIENT, SERVICE_METRICS } from '@es/service-runtime';
import { projections } from '@es/projections';

@Injectable()
export class ProjectionHostService implements OnApplicationBootstrap, OnModuleDestroy {
  readonly host: ProjectionHost;
  private readonly logger = new Logger('projections');
  private readonly stopping = new AbortController();
  private starting: Promise<void> = Promise.resolve();
  private stopGauges: (() => Promise<void>) | undefined;

  constructor(
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(MONGO_CLIENT) mongo: MongoClient,
    @Inject(SERVICE_METRICS) private readonly metrics: ServiceMetrics,
  ) {
    this.host = new ProjectionHost({
      kafka,
      db: mongo.db(mongoConfig().database),
      projections,
      meter: metrics.meter,
      log: (level, message, fields) => {
        const text = fields ? `${message} ${JSON.stringify(fields)}` : message;
        if (level === 'info') this.logger.log(text);
        else if (level === 'warn') this.logger.warn(text);
        else this.logger.error(text);
      },
    });
  }

  onApplicationBootstrap(): void {
    this.starting = this.startUntilDone();
    // Each projection group's lag and the projections' dead letters, from the broker.
    this.stopGauges = registerKafkaGauges(
      this.metrics.meter,
      this.kafka,
      () => this.host.groups(),
      () => [...new Set(projections.flatMap((p) => p.topics))],
    );
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping.abort();
    await this.starting;
    await this.host.stop();
    await this.stopGauges?.();
  }

  private async startUntilDone(): Promise<void> {
    for (let attempt = 1; !this.stopping.signal.aborted; attempt++) {
      try {
        await this.host.start();
        this.logger.log(`projections running: ${projections.map((p) => p.name).join(', ')}`);
        return;
      } catch (error) {
        this.logger.warn(
          `projections not started (attempt ${attempt}): ${error instanceof Error ? error.message : String(error)}; retrying`,
        );
        await this.host.stop().catch(() => undefined);
        await sleep(Math.min(5_000, 250 * 2 ** attempt), undefined, {
          signal: this.stopping.signal,
        }).catch(() => undefined);
      }
    }
  }
}
