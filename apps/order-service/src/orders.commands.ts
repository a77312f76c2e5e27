// The order service's commands: thin adapters from the CommandBus to the event store's command
// handler (load, decide, append with outbox and inbox, retry).
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { DomainError } from '@es/decider';
import {
  uuidv7,
  type CommandHandler as EventStoreCommandHandler,
  type HandleContext,
} from '@es/event-store';
import { ORDER_STREAM_TYPE, type OrderLine } from '@es/order-contracts';
import type { OrderCommand } from '@es/order-domain';
import {
  COMMAND_HANDLER,
  accepted,
  answered,
  replying,
  type Accepted,
  type CommandRequest,
  type Reply,
} from '@es/service-runtime';
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

/** `reply`: the saga's answer, written with the order's events (or with the refusal). */
export class ApplySagaDecision extends Command<DecisionOutcome> {
  constructor(
    readonly orderId: string,
    readonly decision: SagaDecision,
    readonly context: HandleContext,
    readonly reply?: Reply<DecisionOutcome>,
  ) {
    super();
  }
}

@CommandHandler(ApplySagaDecision)
export class ApplySagaDecisionHandler implements ICommandHandler<ApplySagaDecision> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({
    orderId,
    decision,
    context,
    reply,
  }: ApplySagaDecision): Promise<DecisionOutcome> {
    const command: OrderCommand = { ...decision, at: new Date().toISOString() };
    const applied: DecisionOutcome = { outcome: 'applied', orderId };
    try {
      await this.handler.handle(
        orderAggregate,
        orderId,
        command,
        replying(context, reply, applied),
      );
      return applied;
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      return answered(this.handler, context, reply, {
        outcome: 'refused',
        orderId,
        code: error.code,
        message: error.message,
      });
    }
  }
}
