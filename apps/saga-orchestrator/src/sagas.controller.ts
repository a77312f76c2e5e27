// REST for sagas (docs/decisions.md, The order saga): a saga's state and timeline, the sagas in a state (parked
// ones, for an operator), and the operator's retry of a parked saga.
import { Controller, Get, Inject, Param, Post, Query, Res } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiQuery,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { Pool } from 'pg';
import type {
  CommandHandler as EventStoreCommandHandler,
  PostgresEventStore,
} from '@es/event-store';
import { orderSaga } from '@es/saga';
import { identifier, z } from '@es/schema';
import {
  ApiCommand,
  COMMAND_HANDLER,
  CommandContext,
  EVENT_STORE,
  PG_POOL,
  ZodPipe,
  accepted,
  foundWithETag,
  type Accepted,
  type CommandRequest,
} from '@es/service-runtime';
import { orderSagaAggregate } from './order-saga.aggregate';
import { sagaView, type SagaView } from './saga.view';

const listQuery = z.strictObject({
  state: z.enum(['RUNNING', 'COMPENSATING', 'PARKED', 'COMPLETED', 'COMPENSATED']),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

@ApiTags('sagas')
@Controller('sagas')
export class SagasController {
  constructor(
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
    @Inject(EVENT_STORE) private readonly store: PostgresEventStore,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  @Get()
  @ApiQuery({ name: 'state', required: true, description: 'e.g. PARKED' })
  @ApiQuery({ name: 'limit', required: false, description: '1-500, default 100' })
  @ApiOkResponse({ description: 'The ids of sagas in that state, oldest first' })
  async list(
    @Query(new ZodPipe(listQuery, { what: 'query' })) query: z.output<typeof listQuery>,
  ): Promise<{ sagas: { sagaId: string; version: number }[] }> {
    const { rows } = await this.pool.query<{ stream_id: string; stream_version: number }>(
      `SELECT stream_id, stream_version FROM stream_summaries
        WHERE stream_type = $1 AND status = $2
        ORDER BY started_at LIMIT $3`,
      [orderSaga.type, query.state, query.limit],
    );
    return { sagas: rows.map((r) => ({ sagaId: r.stream_id, version: r.stream_version })) };
  }

  @Get(':id')
  @ApiOkResponse({
    description: 'State, step, compensating flag and timeline; ETag is its version',
  })
  @ApiNotFoundResponse()
  async get(
    @Param('id', new ZodPipe(identifier, { field: 'id' })) id: string,
    @Res({ passthrough: true }) response: Response,
  ): Promise<SagaView> {
    const [loaded, history] = await Promise.all([
      this.handler.load(orderSagaAggregate, id),
      this.store.readStream({ type: orderSaga.type, id }),
    ]);
    return foundWithETag(sagaView(loaded.state, loaded.version, history), response, 'saga', id);
  }

  @Post(':id/retry')
  @ApiCommand({ ifMatch: true })
  @ApiAcceptedResponse({ description: 'The parked step is tried again with fresh attempts' })
  @ApiNotFoundResponse()
  @ApiConflictResponse({ description: 'SAGA_NOT_PARKED: only a parked saga is retried' })
  async retry(
    @Param('id', new ZodPipe(identifier, { field: 'id' })) id: string,
    @CommandContext() request: CommandRequest,
  ): Promise<Accepted & { sagaId: string }> {
    const result = await this.handler.handle(
      orderSagaAggregate,
      id,
      { type: 'ResumeSaga', actor: request.metadata.actor ?? null, at: new Date().toISOString() },
      request,
    );
    return { sagaId: id, ...accepted(orderSaga.type, id, result.version) };
  }
}
