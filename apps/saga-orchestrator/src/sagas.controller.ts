// REST for sagas (docs/decisions.md, The order saga): a saga's state and timeline, the sagas in a state (parked
// ones, for an operator), and the operator's retry of a parked saga.
import { Controller, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Pool } from 'pg';
import type {
  CommandHandler as EventStoreCommandHandler,
  PostgresEventStore,
} from '@es/event-store';
import type { ParamsOf, QueryOf } from '@es/http-api';
import { orderSaga } from '@es/saga';
import { getSaga, listSagas, retrySaga, type SagaView } from '@es/saga-contracts';
import {
  COMMAND_HANDLER,
  CommandContext,
  EVENT_STORE,
  Input,
  PG_POOL,
  Route,
  accepted,
  foundWithETag,
  type Accepted,
  type CommandRequest,
} from '@es/service-runtime';
import { orderSagaAggregate } from './order-saga.aggregate';
import { sagaView } from './saga.view';

@Controller()
export class SagasController {
  constructor(
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
    @Inject(EVENT_STORE) private readonly store: PostgresEventStore,
    @Inject(PG_POOL) private readonly pool: Pool,
  ) {}

  @Route(listSagas)
  async list(
    @Input('query') query: QueryOf<typeof listSagas>,
  ): Promise<{ sagas: { sagaId: string; version: number }[] }> {
    const { rows } = await this.pool.query<{ stream_id: string; stream_version: number }>(
      `SELECT stream_id, stream_version FROM stream_summaries
        WHERE stream_type = $1 AND status = $2
        ORDER BY started_at LIMIT $3`,
      [orderSaga.type, query.state, query.limit],
    );
    return { sagas: rows.map((r) => ({ sagaId: r.stream_id, version: r.stream_version })) };
  }

  @Route(getSaga)
  async get(
    @Input('params') { id }: ParamsOf<typeof getSaga>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<SagaView> {
    // The timeline up to the version loaded, not read beside it: read at once, an event written
    // between the two reads showed in the timeline under the older version (and ETag).
    const loaded = await this.handler.load(orderSagaAggregate, id);
    const history = await this.store.readStream(
      { type: orderSaga.type, id },
      { toVersion: loaded.version },
    );
    return foundWithETag(sagaView(loaded.state, loaded.version, history), response, 'saga', id);
  }

  @Route(retrySaga)
  async retry(
    @Input('params') { id }: ParamsOf<typeof retrySaga>,
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
