// A customer's orders, newest first: one small document per order, indexed by customer and time.
import {
  CUSTOMER_ORDERS_READ_MODEL,
  ORDERS_EVENTS_TOPIC,
  orderEventSchemas,
  orderUpcasters,
  type CustomerOrderDocument,
  type OrderStatus,
} from '@es/order-contracts';
import { defineProjection } from '@es/read-models';

const statusAfter = {
  OrderApproved: 'CONFIRMED',
  OrderRejected: 'REJECTED',
  OrderCancelled: 'CANCELLED',
} as const satisfies Record<string, OrderStatus>;

export const customerOrders = defineProjection({
  name: CUSTOMER_ORDERS_READ_MODEL,
  description: "A customer's orders, newest first",
  topics: [ORDERS_EVENTS_TOPIC],
  schemas: orderEventSchemas,
  upcasters: orderUpcasters,
  indexes: [{ name: 'by_customer_newest_first', keys: { customerId: 1, createdAt: -1 } }],
  documentId: (event) => event.data.orderId,
  evolve(doc: CustomerOrderDocument | null, event): CustomerOrderDocument | null {
    const at = { updatedAt: event.recordedAt, version: event.streamVersion };
    if (event.type === 'OrderCreated') {
      const { orderId, customerId, items, total, createdAt } = event.data;
      return {
        orderId,
        customerId,
        status: 'PENDING',
        total,
        lines: items.length,
        createdAt,
        ...at,
      };
    }
    if (!doc)
      throw new Error(`${event.type} for order ${event.data.orderId}, which was never created`);
    if (event.type === 'OrderCancellationRequested') return { ...doc, ...at };
    return { ...doc, status: statusAfter[event.type], ...at };
  },
});
