// One order across the three contexts: the order, its stock reservation per line and its
// payment, fed by orders.events, inventory.events and payments.events. The topics are not ordered
// with each other (a reservation may be projected before the order), so each part fills in on
// its own. A payment's id is its order's id (the saga authorizes one payment per order).
import {
  ORDERS_EVENTS_TOPIC,
  orderEventSchemas,
  orderUpcasters,
  type OrderStatus,
} from '@es/order-contracts';
import {
  INVENTORY_EVENTS_TOPIC,
  StockReservationCommitted,
  StockReservationReleased,
  StockReserved,
  StockReturned,
} from '@es/inventory-contracts';
import { PAYMENTS_EVENTS_TOPIC, paymentEventSchemas } from '@es/payment-contracts';
import { defineProjection } from '@es/read-models';
import type { OrderSummaryDocument } from './projections.http';

export const ORDER_SUMMARY_READ_MODEL = 'order-summary';

type StockLineStatus = OrderSummaryDocument['stock'][number]['status'];
type PaymentStatus = NonNullable<OrderSummaryDocument['payment']>['status'];

const stockStatusAfter = {
  StockReserved: 'RESERVED',
  StockReservationReleased: 'RELEASED',
  StockReservationCommitted: 'COMMITTED',
  StockReturned: 'RETURNED',
} as const satisfies Record<string, StockLineStatus>;

const paymentStatusAfter = {
  PaymentAuthorized: 'AUTHORIZED',
  PaymentDeclined: 'DECLINED',
  PaymentCaptured: 'CAPTURED',
  PaymentVoided: 'VOIDED',
  PaymentRefunded: 'REFUNDED',
} as const satisfies Record<string, PaymentStatus>;

export const orderSummary = defineProjection({
  name: ORDER_SUMMARY_READ_MODEL,
  description: 'One order across contexts: order, stock reservation, payment',
  topics: [ORDERS_EVENTS_TOPIC, INVENTORY_EVENTS_TOPIC, PAYMENTS_EVENTS_TOPIC],
  schemas: [
    ...orderEventSchemas,
    StockReserved,
    StockReservationReleased,
    StockReservationCommitted,
    StockReturned,
    ...paymentEventSchemas,
  ],
  upcasters: orderUpcasters,
  documentId: (event) => ('orderId' in event.data ? event.data.orderId : event.data.paymentId),
  evolve(doc: OrderSummaryDocument | null, event): OrderSummaryDocument | null {
    const current: OrderSummaryDocument = doc ?? {
      orderId: 'orderId' in event.data ? event.data.orderId : event.data.paymentId,
      order: null,
      stock: [],
      payment: null,
      updatedAt: event.recordedAt,
    };
    const next = { ...current, updatedAt: event.recordedAt };
    switch (event.type) {
      case 'OrderCreated': {
        const { customerId, total, createdAt } = event.data;
        return {
          ...next,
          order: { customerId, total, createdAt, status: current.order?.status ?? 'PENDING' },
        };
      }
      case 'OrderApproved':
      case 'OrderRejected':
      case 'OrderCancelled':
      case 'OrderCancellationRequested': {
        if (!current.order)
          throw new Error(`${event.type} for order ${event.data.orderId}, which was never created`);
        if (event.type === 'OrderCancellationRequested')
          return { ...next, order: { ...current.order, reason: event.data.reason } };
        const status: OrderStatus =
          event.type === 'OrderApproved'
            ? 'CONFIRMED'
            : event.type === 'OrderRejected'
              ? 'REJECTED'
              : 'CANCELLED';
        return {
          ...next,
          order: {
            ...current.order,
            status,
            ...('reason' in event.data ? { reason: event.data.reason } : {}),
          },
        };
      }
      case 'StockReserved':
      case 'StockReservationReleased':
      case 'StockReservationCommitted':
      case 'StockReturned': {
        const { sku, quantity } = event.data;
        const line = { sku, quantity, status: stockStatusAfter[event.type] };
        return { ...next, stock: [...current.stock.filter((l) => l.sku !== sku), line] };
      }
      case 'PaymentAuthorized':
      case 'PaymentDeclined':
        return {
          ...next,
          payment: {
            status: paymentStatusAfter[event.type],
            amount: event.data.amount,
            ...(event.type === 'PaymentDeclined' ? { declineReason: event.data.reason } : {}),
          },
        };
      case 'PaymentCaptured':
      case 'PaymentVoided':
      case 'PaymentRefunded':
        return { ...next, payment: { ...current.payment, status: paymentStatusAfter[event.type] } };
    }
  },
});
