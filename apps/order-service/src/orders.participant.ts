// The order service's part in the order saga: the saga's decisions on `orders.commands`, each
// applied once (inbox) and answered on `sagas.replies` in the transaction of its effect.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import {
  ORDERS_COMMANDS_TOPIC,
  orderSagaCommandSchema,
  type OrderSagaCommand,
} from '@es/order-contracts';
import { MessageConsumers, failure, success, type ParticipantRequest } from '@es/service-runtime';
import { ApplySagaDecision, type SagaDecision } from './orders.commands';

const decisionOf = (command: OrderSagaCommand): SagaDecision =>
  command.type === 'RejectOrder'
    ? { type: 'RejectOrder', reason: command.data.reason }
    : { type: command.type };

@Injectable()
export class OrdersParticipant implements OnModuleInit {
  constructor(
    @Inject(MessageConsumers) private readonly consumers: MessageConsumers,
    private readonly commandBus: CommandBus,
  ) {}

  onModuleInit(): void {
    this.consumers.participate({
      topic: ORDERS_COMMANDS_TOPIC,
      schema: orderSagaCommandSchema,
      handle: (request) => this.handle(request),
    });
  }

  private async handle({
    command,
    context,
    reply,
  }: ParticipantRequest<OrderSagaCommand>): Promise<void> {
    const { orderId } = command.data;
    await this.commandBus.execute(
      new ApplySagaDecision(orderId, decisionOf(command), context, (outcome) =>
        reply(
          outcome.outcome === 'applied'
            ? success({ orderId })
            : failure(outcome.code, outcome.message),
        ),
      ),
    );
  }
}
