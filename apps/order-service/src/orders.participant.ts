// The order service's part in the order saga: the saga's decisions on `orders.commands`, each
// applied once (inbox) and answered on `sagas.replies` in the append of its effect.
import { mapDecision } from '@es/event-store';
import {
  ORDERS_COMMANDS_TOPIC,
  orderSagaCommandSchema,
  type OrderSagaCommand,
} from '@es/order-contracts';
import { failure, success } from '@es/saga-contracts';
import type { ParticipantDefinition } from '@es/saga-participant';
import { sagaDecision, type SagaDecision } from './orders.commands';

const decisionOf = (command: OrderSagaCommand): SagaDecision =>
  command.type === 'RejectOrder'
    ? { type: 'RejectOrder', reason: command.data.reason }
    : { type: command.type };

function decide(command: OrderSagaCommand) {
  const { orderId } = command.data;
  return mapDecision(sagaDecision(orderId, decisionOf(command)), (outcome) =>
    outcome.outcome === 'applied' ? success({ orderId }) : failure(outcome.code, outcome.message),
  );
}

/** The order service's participant: the saga's decisions on an order. */
export const ordersParticipant: ParticipantDefinition<OrderSagaCommand> = {
  topic: ORDERS_COMMANDS_TOPIC,
  schema: orderSagaCommandSchema,
  decide,
};
