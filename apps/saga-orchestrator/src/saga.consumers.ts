// What drives the sagas: OrderCreated on `orders.events` starts an order's saga, and
// OrderCancellationRequested its cancellation (held while the order's saga runs); typed replies
// on `sagas.replies` move each on, handed to the saga of the type the reply names. Each message is
// handled once (inbox, in the saga's append) and decided on the saga's stored state; per-saga
// order holds because every topic involved is keyed by the order id, which is the sagas' id.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import type { CommandHandler as EventStoreCommandHandler } from '@es/event-store';
import {
  CommitStockReply,
  ReleaseStockReply,
  ReserveStockReply,
  ReturnStockReply,
} from '@es/inventory-contracts';
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
  OrderCancellationRequested,
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
import {
  ORDER_SAGA_TYPE,
  SAGA_REPLIES_TOPIC,
  type OrderCancellationData,
  type OrderSagaData,
  type ReplyResult,
} from '@es/saga';
import { parse, z } from '@es/schema';
import { COMMAND_HANDLER, MessageConsumers } from '@es/service-runtime';
import { orderCancellationAggregate, orderSagaAggregate, registeredSaga } from './saga.aggregates';

const replySchemas = [
  ReserveStockReply,
  ReleaseStockReply,
  CommitStockReply,
  ReturnStockReply,
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
const cancellationEnvelope = eventEnvelopeSchema.extend({
  type: z.literal('OrderCancellationRequested'),
  data: OrderCancellationRequested.schema,
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
    const type = message.headers['event-type'];
    if (type === 'OrderCreated') await this.startOrderSaga(message, inbox);
    else if (type === 'OrderCancellationRequested') await this.startCancellation(message, inbox);
  }

  private async startOrderSaga(message: ConsumedMessage, inbox: InboxRef): Promise<void> {
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

  /**
   * A confirmed order's cancellation: what to give back is what the order's saga took, so its
   * data comes from that saga; while that saga still runs (a cancel between approval and
   * capture), the cancellation is held, and the deadline scan releases it once that one ended.
   */
  private async startCancellation(message: ConsumedMessage, inbox: InboxRef): Promise<void> {
    const { data } = parsed(cancellationEnvelope, message, 'an OrderCancellationRequested event');
    const order = await this.handler.load(orderSagaAggregate, data.orderId);
    if (order.state.status === 'NONE')
      throw new PoisonMessage(`order ${data.orderId} has no saga: nothing to give back`);
    const cancellation: OrderCancellationData = { ...order.state.data, reason: data.reason };
    await this.handler.handle(
      orderCancellationAggregate,
      data.orderId,
      {
        type: 'StartSaga',
        sagaId: data.orderId,
        data: cancellation,
        at: new Date().toISOString(),
        // Held unless the order's saga completed (a confirmed order's saga cannot compensate:
        // it is past its pivot; were it ever so, the cancellation waits, WAITING, for people).
        held: order.state.status !== 'COMPLETED',
      },
      { metadata: metadataOf(message, 'saga'), inbox },
      // One cancellation per order: the order service requests it at most once.
      { assumeNew: true },
    );
  }

  private async onReply(message: ConsumedMessage, inbox: InboxRef): Promise<void> {
    const reply = parsed(replySchema, message, 'a reply of a saga');
    const saga = registeredSaga(reply.saga ?? ORDER_SAGA_TYPE);
    if (!saga)
      throw new PoisonMessage(`a reply for saga type ${reply.saga}, which is not run here`);
    await this.handler.handle(
      saga.aggregate,
      reply.sagaId,
      {
        type: 'HandleReply',
        command: reply.command,
        // The sending it answers: its participant wrote the reply with that command's message
        // as its cause (a reply without one, or answering another sending, is ignored).
        causationId: message.headers['causation-id'] ?? null,
        result: reply.result as ReplyResult,
        at: new Date().toISOString(),
      },
      { metadata: metadataOf(message, 'saga'), inbox },
    );
  }
}
