// The order service's commands: thin adapters from the CommandBus to the event store's command
// handler (load, decide, append with outbox and inbox, retry).
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import {
  answerRefusal,
  onStream,
  uuidv7,
  type CommandHandler as EventStoreCommandHandler,
  type Decision,
} from '@es/event-store';
import { ORDER_STREAM_TYPE, type OrderLine } from '@es/order-contracts';
import type { OrderCommand, OrderContact } from '@es/order-domain';
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
    readonly contact: OrderContact,
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

  async execute({ customerId, items, contact, request }: PlaceOrder): Promise<OrderAccepted> {
    // A retried request returns the first order's id: the inbox answers before this one is used.
    const orderId = uuidv7();
    const result = await this.handler.handle(
      orderAggregate,
      orderId,
      { type: 'CreateOrder', orderId, customerId, items, contact, at: new Date().toISOString() },
      request,
      // A fresh id: nothing to load. A retry is caught by the append's inbox mark.
      { assumeNew: true },
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

/** What the saga decides about an order: approve it, reject it, or complete its cancellation. */
export type SagaDecision =
  | { readonly type: 'ApproveOrder' }
  | { readonly type: 'RejectOrder'; readonly reason: string }
  | { readonly type: 'CompleteOrderCancellation' };

export type DecisionOutcome =
  | { readonly outcome: 'applied'; readonly orderId: string }
  | {
      readonly outcome: 'refused';
      readonly orderId: string;
      readonly code: string;
      readonly message: string;
    };

/**
 * The saga's decision on an order, as the order participant carries it out with its reply: a
 * refusal (the order moved on, e.g. cancelled meanwhile) is an answer, recorded as handled with
 * it, not an error.
 */
export function sagaDecision(orderId: string, decision: SagaDecision): Decision<DecisionOutcome> {
  const command: OrderCommand = { ...decision, at: new Date().toISOString() };
  return {
    commands: [onStream(orderAggregate, orderId, command)],
    outcome: { outcome: 'applied', orderId },
    refused: answerRefusal<DecisionOutcome>(({ error }) => ({
      outcome: 'refused',
      orderId,
      code: error.code,
      message: error.message,
    })),
  };
}
