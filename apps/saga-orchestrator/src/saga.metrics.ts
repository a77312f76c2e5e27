// `sagas{type, state, step}`: how many sagas of each type are in each state and, while waiting,
// running, compensating or parked, at which step; read from the sagas' summary rows (one each, kept by the saga's own
// appends) at each scrape. COMPENSATING, COMPENSATED and PARKED are the compensations and parked sagas an
// operator watches.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import type { ServiceMetrics } from '@es/observability';
import { SAGA_TYPES } from '@es/saga';
import { PG_POOL, SERVICE_METRICS } from '@es/service-runtime';

@Injectable()
export class SagaMetrics implements OnModuleInit {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(SERVICE_METRICS) private readonly metrics: ServiceMetrics,
  ) {}

  onModuleInit(): void {
    this.metrics.meter
      .createObservableGauge('sagas', {
        description: 'Sagas by type and state, and by step for those not ended',
      })
      .addCallback(async (result) => {
        try {
          const { rows } = await this.pool.query<{
            type: string;
            state: string;
            step: string | null;
            n: string;
          }>(
            `SELECT stream_type AS type, status AS state, step, count(*) AS n
               FROM stream_summaries WHERE stream_type = ANY($1) GROUP BY 1, 2, 3`,
            [[...SAGA_TYPES]],
          );
          for (const row of rows)
            result.observe(Number(row.n), {
              type: row.type,
              state: row.state,
              step: row.step ?? 'none',
            });
        } catch {
          // Postgres away: no figure this scrape.
        }
      });
  }
}
