// The order saga as an event-sourced aggregate in the `sagas` database: each message is decided
// on the saga's state, and the commands it sends are outbox rows of the same append (state and
// outgoing commands commit together). Each append also keeps the saga's summary row
// (stream_summaries: state, step, deadline, started), in typed, indexed columns that the
// deadline scan, the listings and the metrics query; a snapshot every few events keeps a load
// after a restart short.
import {
  uuidv5,
  type AggregateDefinition,
  type OutboxMessage,
  type StreamSummary,
} from '@es/event-store';
import { sagaConfig } from '@es/runtime-config';
import {
  SAGAS_EVENTS_TOPIC,
  defineSaga,
  orderSaga,
  sagaDecider,
  type OrderSagaData,
  type SagaEvent,
  type SagaMessage,
  type SagaState,
} from '@es/saga';

export type OrderSagaState = SagaState<OrderSagaData>;

/** The saga's summary row: what is queried across sagas, typed, from the state itself. */
export function sagaSummary(state: OrderSagaState): StreamSummary {
  switch (state.status) {
    case 'NONE':
      return { status: state.status, step: null, dueAt: null, startedAt: null };
    case 'COMPLETED':
    case 'COMPENSATED':
      return { status: state.status, step: null, dueAt: null, startedAt: state.startedAt };
    case 'RUNNING':
    case 'COMPENSATING':
    case 'PARKED':
      return {
        status: state.status,
        step: orderSaga.steps[state.step]?.name ?? `step-${state.step}`,
        dueAt: state.deadlineAt,
        startedAt: state.startedAt,
      };
  }
}

function commandsSent(events: readonly SagaEvent[], sagaId: string): OutboxMessage[] {
  return events.flatMap((event) => {
    if (event.type !== 'SagaCommandSent') return [];
    const { command, messageId } = event.data;
    return [
      {
        topic: command.topic,
        key: sagaId,
        // The saga numbers its commands; the wire wants a UUID: the same one for the same number.
        messageId: uuidv5(`${orderSaga.type}/${messageId}`),
        payload: { type: command.type, version: command.version, sagaId, data: command.data },
      },
    ];
  });
}

/** The order saga with this deployment's step deadline. */
export const configuredOrderSaga = defineSaga({
  ...orderSaga,
  deadlineMs: sagaConfig().stepDeadlineMs,
});

export const orderSagaAggregate: AggregateDefinition<
  SagaMessage<OrderSagaData>,
  SagaEvent,
  OrderSagaState
> = {
  streamType: orderSaga.type,
  // Its events are published too: the read side shows each order's saga progress.
  topic: SAGAS_EVENTS_TOPIC,
  decider: sagaDecider(configuredOrderSaga),
  snapshot: { every: 4, schemaVersion: 1 },
  summary: sagaSummary,
  messages: commandsSent,
};
