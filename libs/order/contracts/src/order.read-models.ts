// The order read models as the projection service writes them to MongoDB and the order service
// reads them (docs/decisions.md, Read models). A field change here is a projection change: rebuild.
import type { OrderLine } from './order.events';

export type OrderStatus = 'PENDING' | 'CONFIRMED' | 'REJECTED' | 'CANCELLED';

/** Where the order's saga is, from its events on `sagas.events`. */
export interface OrderSagaProgress {
  readonly state: 'RUNNING' | 'COMPENSATING' | 'PARKED' | 'COMPLETED' | 'COMPENSATED';
  /** The last command the saga sent (ReserveStock, AuthorizePayment, ...); null before one. */
  readonly step: string | null;
  readonly compensating: boolean;
  readonly updatedAt: string;
  /** The saga stream's version this reflects. */
  readonly version: number;
}

/** One order, by order id. */
export const ORDER_DETAILS_READ_MODEL = 'order-details';
export interface OrderDetailsDocument {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly items: readonly OrderLine[];
  readonly total: number;
  readonly createdAt: string;
  readonly approvedAt?: string;
  readonly rejectedAt?: string;
  readonly rejectionReason?: string;
  /** Set while a confirmed order's cancellation is being compensated. */
  readonly cancellationRequestedAt?: string;
  readonly cancellationReason?: string;
  readonly cancelledAt?: string;
  /** The time of the order's last event. */
  readonly updatedAt: string;
  /** The order stream's version this document reflects. */
  readonly version: number;
  /** Absent until the saga's first event is projected. */
  readonly saga?: OrderSagaProgress;
}

/** A customer's orders, newest first: one small document per order, indexed by customer. */
export const CUSTOMER_ORDERS_READ_MODEL = 'customer-orders';
export interface CustomerOrderDocument {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: OrderStatus;
  readonly total: number;
  readonly lines: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly version: number;
}
