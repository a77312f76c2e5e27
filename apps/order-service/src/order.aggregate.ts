// How the order service persists orders: the order decider's stream, its snapshots, and the
// topic every order event is published to.
import type { AggregateDefinition } from '@es/event-store';
import { ORDER_STREAM_TYPE, ORDERS_EVENTS_TOPIC, type OrderEvent } from '@es/order-contracts';
import { orderDecider, type OrderCommand, type OrderState } from '@es/order-domain';

export const orderAggregate: AggregateDefinition<OrderCommand, OrderEvent, OrderState> = {
  streamType: ORDER_STREAM_TYPE,
  decider: orderDecider,
  topic: ORDERS_EVENTS_TOPIC,
  snapshot: { every: 20, schemaVersion: 1 },
};
