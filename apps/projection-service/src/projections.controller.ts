// REST for the read side's operators (docs/decisions.md, Read models): each projection's generation, lag and
// progress; a rebuild without downtime; and the cross-context order summary.
import { Controller, Get, HttpStatus, Inject, Param, Post, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { ConsistencyToken } from '@es/event-store';
import type { Generation, ProjectionStatus, ReadModels } from '@es/read-models';
import { identifier } from '@es/schema';
import { ConsistentWith, NotFound, READ_MODELS, ZodPipe } from '@es/service-runtime';
import { ProjectionHostService } from './projection-host';
import { ORDER_SUMMARY_READ_MODEL, type OrderSummaryDocument } from '@es/projections';

@ApiTags('projections')
@Controller()
export class ProjectionsController {
  constructor(
    private readonly projections: ProjectionHostService,
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
  ) {}

  @Get('projections')
  @ApiOkResponse({ description: 'Each projection: live or rebuilding, generations, lag, progress' })
  async list(): Promise<{ projections: ProjectionStatus[] }> {
    return { projections: await this.projections.host.status() };
  }

  @Post('projections/:name/rebuild')
  @ApiAcceptedResponse({
    description:
      'The next generation is being built beside the live one; readers switch once it has caught up',
  })
  @ApiNotFoundResponse({ description: 'No projection of that name' })
  @ApiConflictResponse({ description: 'A rebuild of it is already running' })
  async rebuild(
    @Param('name') name: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<{ projection: string; rebuilding: Generation }> {
    if (!this.projections.host.projection(name)) throw new NotFound('projection', name);
    const rebuilding = await this.projections.host.rebuild(name);
    response.status(HttpStatus.ACCEPTED);
    return { projection: name, rebuilding };
  }

  @Get('order-summaries/:orderId')
  @ApiOkResponse({ description: 'The order, its stock reservation per line and its payment' })
  @ApiNotFoundResponse()
  async orderSummary(
    @Param('orderId', new ZodPipe(identifier, { field: 'orderId' })) orderId: string,
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
