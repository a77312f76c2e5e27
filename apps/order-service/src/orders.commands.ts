// The order service's commands: thin adapters from the CommandBus to the event store's command
// handler (load, decide, append with outbox and inbox, retry).
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { uuidv7, type CommandHandler as EventStoreCommandHandler } from '@es/event-store';
import { ORDER_STREAM_TYPE, type OrderLine } from '@es/order-contracts';
import { COMMAND_HANDLER, accepted, type Accepted, type CommandRequest } from '@es/service-runtime';
import { orderAggregate } from './order.aggregate';

export interface OrderAccepted extends Accepted {
  readonly orderId: string;
}

const orderAccepted = (orderId: string, version: number): OrderAccepted => ({
  orderId,
  ...accepted(ORDER_STREAM_TYPE, orderId, version),
});

export class PlaceOrder extends Command<OrderAccepted> {
  constructor(
    readonly customerId: string,
    readonly items: readonly OrderLine[],
    readonly request: CommandRequest,
  ) {
    super();
  }
}

export class CancelOrder extends Command<OrderAccepted> {
  constructor(
    readonly orderId: string,
    readonly reason: string,
    readonly request: CommandRequest,
  ) {
    super();
  }
}

@CommandHandler(PlaceOrder)
export class PlaceOrderHandler implements ICommandHandler<PlaceOrder> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ customerId, items, request }: PlaceOrder): Promise<OrderAccepted> {
    // A retried request returns the first order's id: the inbox answers before this one is used.
    const orderId = uuidv7();
    const result = await this.handler.handle(
      orderAggregate,
      orderId,
      { type: 'CreateOrder', orderId, customerId, items, at: new Date().toISOString() },
      request,
    );
    return orderAccepted(result.streamId, result.version);
  }
}

@CommandHandler(CancelOrder)
export class CancelOrderHandler implements ICommandHandler<CancelOrder> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ orderId, reason, request }: CancelOrder): Promise<OrderAccepted> {
    const result = await this.handler.handle(
      orderAggregate,
      orderId,
      { type: 'CancelOrder', reason, at: new Date().toISOString() },
      request,
    );
    return orderAccepted(orderId, result.version);
  }
}
