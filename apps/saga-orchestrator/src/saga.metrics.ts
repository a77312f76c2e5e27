// `sagas{state, step}`: how many order sagas are in each state and, while running, compensating
// or parked, at which step; read from the sagas' snapshots (one row each, the current state) at
// each scrape. COMPENSATING, COMPENSATED and PARKED are the compensations and parked sagas an
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
    const stepName = (index: string | null) =>
      index === null ? 'none' : (orderSaga.steps[Number(index)]?.name ?? `step-${index}`);
    this.metrics.meter
      .createObservableGauge('sagas', {
        description: 'Order sagas by state, and by step for those not ended',
      })
      .addCallback(async (result) => {
        try {
          const { rows } = await this.pool.query<{ state: string; step: string | null; n: string }>(
            `SELECT state->>'status' AS state,
                    CASE WHEN state->>'status' IN ('COMPLETED', 'COMPENSATED') THEN NULL ELSE state->>'step' END AS step,
                    count(*) AS n
               FROM snapshots WHERE stream_type = $1 GROUP BY 1, 2`,
            [orderSaga.type],
          );
          for (const row of rows)
            result.observe(Number(row.n), { state: row.state, step: stepName(row.step) });
        } catch {
          // Postgres away: no figure this scrape.
        }
      });
  }
}
