// The order saga as an event-sourced aggregate in the `sagas` database: each message is decided
// on the saga's state, and the commands it sends are outbox rows of the same append (state and
// outgoing commands commit together). A snapshot is kept at every event: it is the saga's
// current state in one row, which the deadline scan queries (`deadlineAt`) and listings read.
import { uuidv5, type AggregateDefinition, type OutboxMessage } from '@es/event-store';
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
  snapshot: { every: 1, schemaVersion: 1 },
  messages: commandsSent,
};
