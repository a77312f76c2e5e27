// Each saga type as an event-sourced aggregate in the `sagas` database: each message is decided
// on the saga's state, and the commands it sends are outbox rows of the same append (state and
// outgoing commands commit together). Each append also keeps the saga's summary row
// (stream_summaries: state, step, deadline, started), in typed, indexed columns that the
// deadline scan, the listings and the metrics query; a snapshot every few events keeps a load
// after a restart short. The types run here are registered once, below: the consumers, the
// deadline scan, the REST API and the metrics all go through that registry.
import {
  uuidv5,
  type AggregateDefinition,
  type OutboxMessage,
  type StreamSummary,
} from '@es/event-store';
import { sagaConfig } from '@es/runtime-config';
import {
  ORDER_SAGA_TYPE,
  SAGAS_EVENTS_TOPIC,
  SAGA_TYPES,
  defineSaga,
  orderCancellationSaga,
  orderSaga,
  sagaDecider,
  type OrderCancellationData,
  type OrderSagaData,
  type SagaDefinition,
  type SagaEvent,
  type SagaMessage,
  type SagaState,
  type SagaType,
} from '@es/saga';

export type OrderSagaState = SagaState<OrderSagaData>;

export type SagaAggregate<Data> = AggregateDefinition<
  SagaMessage<Data>,
  SagaEvent,
  SagaState<Data>
>;

/** The saga's summary row: what is queried across sagas, typed, from the state itself. */
export function sagaSummary<Data>(
  definition: SagaDefinition<Data>,
  state: SagaState<Data>,
): StreamSummary {
  switch (state.status) {
    case 'NONE':
      return { status: state.status, step: null, dueAt: null, startedAt: null };
    case 'COMPLETED':
    case 'COMPENSATED':
      return { status: state.status, step: null, dueAt: null, startedAt: state.startedAt };
    case 'WAITING':
    case 'RUNNING':
    case 'COMPENSATING':
    case 'PARKED':
      return {
        status: state.status,
        step: definition.steps[state.step]?.name ?? `step-${state.step}`,
        dueAt: state.deadlineAt,
        startedAt: state.startedAt,
      };
  }
}

/** The commands a saga's events send, as outbox rows: keyed by the saga's id, naming its type. */
/** The saga numbers its commands; the wire wants a UUID: the same one for the same number. */
const wireId = (type: string, messageId: string) => uuidv5(`${type}/${messageId}`);

function commandsSent(type: string, events: readonly SagaEvent[], sagaId: string): OutboxMessage[] {
  return events.flatMap((event) => {
    if (event.type !== 'SagaCommandSent') return [];
    const { command, messageId } = event.data;
    return [
      {
        topic: command.topic,
        key: sagaId,
        messageId: wireId(type, messageId),
        // The type travels with the command and comes back in the reply (participant protocol);
        // left out for the order saga, whose commands were typeless before there were two, so
        // a participant not yet upgraded still accepts them.
        payload: {
          type: command.type,
          version: command.version,
          sagaId,
          ...(type === ORDER_SAGA_TYPE ? {} : { saga: type }),
          data: command.data,
        },
      },
    ];
  });
}

/** A saga definition, with this deployment's step deadline, as its aggregate. */
function sagaAggregate<Data>(definition: SagaDefinition<Data>): SagaAggregate<Data> {
  const configured = defineSaga({ ...definition, deadlineMs: sagaConfig().stepDeadlineMs });
  return {
    streamType: configured.type,
    // Its events are published too: the read side shows each order's saga progress.
    topic: SAGAS_EVENTS_TOPIC,
    // A reply is taken when its cause is one of the awaited sendings, as they went out.
    decider: sagaDecider(configured, { wireId: (id) => wireId(configured.type, id) }),
    // 2: the state records the sendings a reply may answer (`answering`).
    snapshot: { every: 4, schemaVersion: 2 },
    summary: (state) => sagaSummary(configured, state),
    messages: (events, sagaId) => commandsSent(configured.type, events, sagaId),
  };
}

export const orderSagaAggregate = sagaAggregate<OrderSagaData>(orderSaga);
export const orderCancellationAggregate =
  sagaAggregate<OrderCancellationData>(orderCancellationSaga);

/** A registered saga type: its definition and aggregate, for what handles any saga. */
export interface RegisteredSaga {
  readonly definition: SagaDefinition<unknown>;
  readonly aggregate: SagaAggregate<unknown>;
}

// What every type shares (replies, deadlines, resumes, releases) carries no saga data, so a
// saga of any type is handled as one of unknown data.
const registered = <Data>(
  definition: SagaDefinition<Data>,
  aggregate: SagaAggregate<Data>,
): RegisteredSaga => ({
  definition: definition as SagaDefinition<unknown>,
  aggregate: aggregate as unknown as SagaAggregate<unknown>,
});

export const SAGAS: ReadonlyMap<SagaType, RegisteredSaga> = registry([
  registered(orderSaga, orderSagaAggregate),
  registered(orderCancellationSaga, orderCancellationAggregate),
]);

/**
 * The registry, checked once at start-up: every type the API names is run here, and a saga held
 * until another ends names a type that is run here too (a typo would hold it forever).
 */
function registry(sagas: readonly RegisteredSaga[]): ReadonlyMap<SagaType, RegisteredSaga> {
  const byType = new Map(sagas.map((s) => [s.definition.type, s]));
  for (const type of SAGA_TYPES)
    if (!byType.has(type)) throw new Error(`saga type ${type} is in the API but not run here`);
  for (const { definition } of sagas) {
    if (!(SAGA_TYPES as readonly string[]).includes(definition.type))
      throw new Error(`saga type ${definition.type} is run here but not in SAGA_TYPES`);
    if (definition.startsAfter !== undefined && !byType.has(definition.startsAfter))
      throw new Error(`${definition.type} starts after ${definition.startsAfter}, not run here`);
  }
  return byType as ReadonlyMap<SagaType, RegisteredSaga>;
}

export function registeredSaga(type: string): RegisteredSaga | undefined {
  return SAGAS.get(type as SagaType);
}
