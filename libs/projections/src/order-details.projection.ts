// One order by id: status, lines, total, reasons and the times of each change.
import {
  ORDERS_EVENTS_TOPIC,
  ORDER_DETAILS_READ_MODEL,
  orderEventSchemas,
  type OrderDetailsDocument,
} from '@es/order-contracts';
import { defineProjection } from '@es/read-models';

export const orderDetails = defineProjection({
  name: ORDER_DETAILS_READ_MODEL,
  description: 'One order by id: status, lines, total, reasons, timestamps',
  topics: [ORDERS_EVENTS_TOPIC],
  schemas: orderEventSchemas,
  documentId: (event) => event.data.orderId,
  evolve(doc: OrderDetailsDocument | null, event): OrderDetailsDocument | null {
    const at = { updatedAt: event.recordedAt, version: event.streamVersion };
    if (event.type === 'OrderCreated') {
      const { orderId, customerId, items, total, createdAt } = event.data;
      return { orderId, customerId, status: 'PENDING', items, total, createdAt, ...at };
    }
    // An order's first event is OrderCreated, and one stream's events arrive in order.
    if (!doc)
      throw new Error(`${event.type} for order ${event.data.orderId}, which was never created`);
    switch (event.type) {
      case 'OrderApproved':
        return { ...doc, status: 'CONFIRMED', approvedAt: event.data.approvedAt, ...at };
      case 'OrderRejected':
        return {
          ...doc,
          status: 'REJECTED',
          rejectionReason: event.data.reason,
          rejectedAt: event.data.rejectedAt,
          ...at,
        };
      case 'OrderCancellationRequested':
        return {
          ...doc,
          cancellationRequestedAt: event.data.requestedAt,
          cancellationReason: event.data.reason,
          ...at,
        };
      case 'OrderCancelled':
        return {
          ...doc,
          status: 'CANCELLED',
          cancellationReason: event.data.reason,
          cancelledAt: event.data.cancelledAt,
          ...at,
        };
    }
  },
});
