// The order service's part in the order saga: the saga's decisions on `orders.commands`, each
// applied once (inbox) and answered on `sagas.replies` in the append of its effect.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { mapDecision, type CommandHandler as EventStoreCommandHandler } from '@es/event-store';
import {
  ORDERS_COMMANDS_TOPIC,
  orderSagaCommandSchema,
  type OrderSagaCommand,
} from '@es/order-contracts';
import { failure, success } from '@es/saga-contracts';
import { participantConsumer } from '@es/saga-participant';
import { COMMAND_HANDLER, MessageConsumers } from '@es/service-runtime';
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

@Injectable()
export class OrdersParticipant implements OnModuleInit {
  constructor(
    @Inject(MessageConsumers) private readonly consumers: MessageConsumers,
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
  ) {}

  onModuleInit(): void {
    this.consumers.consume(
      participantConsumer(this.handler, {
        topic: ORDERS_COMMANDS_TOPIC,
        schema: orderSagaCommandSchema,
        decide,
      }),
    );
  }
}
