// How the order service persists orders: the order decider's stream, its snapshots, its summary
// row, and the topic every order event is published to.
import type { AggregateDefinition, StreamSummary } from '@es/event-store';
import { ORDER_STREAM_TYPE, ORDERS_EVENTS_TOPIC, type OrderEvent } from '@es/order-contracts';
import { orderDecider, type OrderCommand, type OrderState } from '@es/order-domain';

/**
 * The order's summary row (stream_summaries): its status, and while it is PENDING, when it was
 * placed as its `due_at`, so the PENDING orders are the summary index's rows of this type, oldest
 * first: what the verdict sweep reads (verdict-sweep.ts). A verdict clears it.
 */
export function orderSummary(state: OrderState): StreamSummary {
  if (state.status === 'NONE') return { status: 'NONE', step: null, dueAt: null, startedAt: null };
  const placedAt = state.order.createdAt;
  return {
    status: state.status,
    step: null,
    dueAt: state.status === 'PENDING' ? placedAt : null,
    startedAt: placedAt,
  };
}

export const orderAggregate: AggregateDefinition<OrderCommand, OrderEvent, OrderState> = {
  streamType: ORDER_STREAM_TYPE,
  decider: orderDecider,
  topic: ORDERS_EVENTS_TOPIC,
  snapshot: { every: 20, schemaVersion: 1 },
  summary: orderSummary,
};
