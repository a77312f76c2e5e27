// REST for the read side's operators (docs/api.md): the operations of @es/projections'
// projections.http.ts - each projection's generations, lag and progress; a rebuild without
// downtime; and the cross-context order summary.
import { Controller, Inject } from '@nestjs/common';
import type { ConsistencyToken } from '@es/event-store';
import type { ParamsOf } from '@es/http-api';
import type { Generation, ProjectionStatus, ReadModels } from '@es/read-models';
import { ConsistentWith, Input, NotFound, READ_MODELS, Route } from '@es/service-runtime';
import { ProjectionHostService } from './projection-host';
import {
  ORDER_SUMMARY_READ_MODEL,
  getOrderSummary,
  listProjections,
  rebuildProjection,
  type OrderSummaryDocument,
} from '@es/projections';

@Controller()
export class ProjectionsController {
  constructor(
    private readonly projections: ProjectionHostService,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
  ) {}

  @Route(listProjections)
  async list(): Promise<{ projections: ProjectionStatus[] }> {
    return { projections: await this.projections.host.status() };
  }

  @Route(rebuildProjection)
  async rebuild(
    @Input('params') { name }: ParamsOf<typeof rebuildProjection>,
  ): Promise<{ projection: string; rebuilding: Generation }> {
    if (!this.projections.host.projection(name)) throw new NotFound('projection', name);
    return { projection: name, rebuilding: await this.projections.host.rebuild(name) };
  }

  @Route(getOrderSummary)
  async orderSummary(
    @Input('params') { orderId }: ParamsOf<typeof getOrderSummary>,
    @ConsistentWith() token: ConsistencyToken | undefined,
  ): Promise<OrderSummaryDocument> {
    const summary = await this.readModels.get<OrderSummaryDocument>(
      ORDER_SUMMARY_READ_MODEL,
      orderId,
      {
        ...(token ? { consistentWith: token } : {}),
      },
    );
    if (!summary) throw new NotFound('order summary', orderId);
    return summary;
  }
}
