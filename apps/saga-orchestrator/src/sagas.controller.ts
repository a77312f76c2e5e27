// REST for sagas (docs/decisions.md, The order saga): a saga's state and timeline, the sagas in a state (parked
// ones, for an operator), and the operator's retry of a parked saga; each named by id and type.
import { Controller, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Pool } from 'pg';
import type {
  CommandHandler as EventStoreCommandHandler,
  PostgresEventStore,
} from '@es/event-store';
import type { ParamsOf, QueryOf } from '@es/http-api';
import { SAGA_TYPES } from '@es/saga';
import { getSaga, listSagas, retrySaga, type SagaType, type SagaView } from '@es/saga-contracts';
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
import { registeredSaga, type RegisteredSaga } from './saga.aggregates';
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
  ): Promise<{ sagas: { sagaId: string; type: SagaType; version: number }[] }> {
    const { rows } = await this.pool.query<{
      stream_type: SagaType;
      stream_id: string;
      stream_version: number;
    }>(
      `SELECT stream_type, stream_id, stream_version FROM stream_summaries
        WHERE stream_type = ANY($1) AND status = $2
        ORDER BY started_at LIMIT $3`,
      [query.type ? [query.type] : [...SAGA_TYPES], query.state, query.limit],
    );
    return {
      sagas: rows.map((r) => ({
        sagaId: r.stream_id,
        type: r.stream_type,
        version: r.stream_version,
      })),
    };
  }

  @Route(getSaga)
  async get(
    @Input('params') { id }: ParamsOf<typeof getSaga>,
    @Input('query') { type }: QueryOf<typeof getSaga>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<SagaView | undefined> {
    const saga = sagaOfType(type);
    // The timeline up to the version loaded, not read beside it: read at once, an event written
    // between the two reads showed in the timeline under the older version (and ETag).
    const loaded = await this.handler.load(saga.aggregate, id);
    const history = await this.store.readStream(
      { type: saga.definition.type, id },
      { toVersion: loaded.version },
    );
    return foundWithETag(
      sagaView(saga.definition, loaded.state, loaded.version, history),
      response,
      'saga',
      id,
    );
  }

  @Route(retrySaga)
  async retry(
    @Input('params') { id }: ParamsOf<typeof retrySaga>,
    @Input('query') { type }: QueryOf<typeof retrySaga>,
    @CommandContext() request: CommandRequest,
  ): Promise<Accepted & { sagaId: string }> {
    const saga = sagaOfType(type);
    const result = await this.handler.handle(
      saga.aggregate,
      id,
      { type: 'ResumeSaga', actor: request.metadata.actor ?? null, at: new Date().toISOString() },
      request,
    );
    return { sagaId: id, ...accepted(saga.definition.type, id, result.version) };
  }
}

/** The registered saga of a type the API accepts (its schema lists exactly those). */
function sagaOfType(type: SagaType): RegisteredSaga {
  const saga = registeredSaga(type);
  if (!saga) throw new Error(`saga type ${type} is in the API but not registered`);
  return saga;
}
