// `sagas{state, step}`: how many order sagas are in each state and, while running, compensating
// or parked, at which step; read from the sagas' summary rows (one each, kept by the saga's own
// appends) at each scrape. COMPENSATING, COMPENSATED and PARKED are the compensations and parked sagas an
// operator watches.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { Pool } from 'pg';
import type { ServiceMetrics } from '@es/observability';
import { orderSaga } from '@es/saga';
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
        description: 'Order sagas by state, and by step for those not ended',
      })
      .addCallback(async (result) => {
        try {
          const { rows } = await this.pool.query<{ state: string; step: string | null; n: string }>(
            `SELECT status AS state, step, count(*) AS n
               FROM stream_summaries WHERE stream_type = $1 GROUP BY 1, 2`,
            [orderSaga.type],
          );
          for (const row of rows)
            result.observe(Number(row.n), { state: row.state, step: row.step ?? 'none' });
        } catch {
          // Postgres away: no figure this scrape.
        }
      });
  }
}
