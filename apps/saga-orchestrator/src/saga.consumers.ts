// What drives the saga: OrderCreated on `orders.events` starts one, typed replies on
// `sagas.replies` move it on. Each message is handled once (inbox, in the saga's append) and
// decided on the saga's stored state; per-saga order holds because both topics are keyed by
// the order id, which is the saga's id.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { CommandHandler as EventStoreCommandHandler } from '@es/event-store';
import { CommitStockReply, ReleaseStockReply, ReserveStockReply } from '@es/inventory-contracts';
import {
  PoisonMessage,
  eventEnvelopeSchema,
  metadataOf,
  type ConsumedMessage,
  type InboxRef,
} from '@es/messaging';
import {
  ApproveOrderReply,
  CompleteOrderCancellationReply,
  OrderCreated,
  ORDERS_EVENTS_TOPIC,
  RejectOrderReply,
} from '@es/order-contracts';
import {
  AuthorizePaymentReply,
  CapturePaymentReply,
  RefundPaymentReply,
  VoidPaymentReply,
} from '@es/payment-contracts';
import { SAGA_REPLIES_TOPIC, type OrderSagaData, type ReplyResult } from '@es/saga';
import { parse, z } from '@es/schema';
import { COMMAND_HANDLER, MessageConsumers } from '@es/service-runtime';
import { orderSagaAggregate } from './order-saga.aggregate';

const replySchemas = [
  ReserveStockReply,
  ReleaseStockReply,
  CommitStockReply,
  AuthorizePaymentReply,
  CapturePaymentReply,
  VoidPaymentReply,
  RefundPaymentReply,
  ApproveOrderReply,
  RejectOrderReply,
  CompleteOrderCancellationReply,
];
const replySchema = z.union(replySchemas);
/** An OrderCreated event as the relay publishes it (the one envelope, its data checked). */
const createdEnvelope = eventEnvelopeSchema.extend({
  type: z.literal('OrderCreated'),
  data: OrderCreated.schema,
});

function parsed<T>(schema: z.ZodType<T>, message: ConsumedMessage, what: string): T {
  const result = parse(schema, message.payload);
  if (!result.ok)
    throw new PoisonMessage(
      `not ${what}: ${result.problems.map((p) => `${p.field}: ${p.problem}`).join('; ')}`,
    );
  return result.value;
}

@Injectable()
export class SagaConsumers implements OnModuleInit {
  constructor(
    @Inject(MessageConsumers) private readonly consumers: MessageConsumers,
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
  ) {}

  onModuleInit(): void {
    this.consumers.consume({
      topics: [ORDERS_EVENTS_TOPIC, SAGA_REPLIES_TOPIC],
      handler: (message, inbox) =>
        message.topic === SAGA_REPLIES_TOPIC
          ? this.onReply(message, inbox)
          : this.onOrderEvent(message, inbox),
    });
  }

  private async onOrderEvent(message: ConsumedMessage, inbox: InboxRef): Promise<void> {
    if (message.headers['event-type'] !== 'OrderCreated') return; // the saga starts on creation only
    const { data } = parsed(createdEnvelope, message, 'an OrderCreated event');
    const sagaData: OrderSagaData = {
      orderId: data.orderId,
      customerId: data.customerId,
      items: data.items,
      total: data.total,
    };
    await this.handler.handle(
      orderSagaAggregate,
      data.orderId,
      { type: 'StartSaga', sagaId: data.orderId, data: sagaData, at: new Date().toISOString() },
      { metadata: metadataOf(message, 'saga'), inbox },
      // A saga per order: new unless this OrderCreated came before (then the append conflicts,
      // and the retry loads the saga and finds the message handled).
      { assumeNew: true },
    );
  }

  private async onReply(message: ConsumedMessage, inbox: InboxRef): Promise<void> {
    const reply = parsed(replySchema, message, 'a reply of the order saga');
    await this.handler.handle(
      orderSagaAggregate,
      reply.sagaId,
      {
        type: 'HandleReply',
        command: reply.command,
        result: reply.result as ReplyResult,
        at: new Date().toISOString(),
      },
      { metadata: metadataOf(message, 'saga'), inbox },
    );
  }
}
