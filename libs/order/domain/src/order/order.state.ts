import type { OrderLine } from '@es/order-contracts';

export interface OrderDetails {
  readonly orderId: string;
  readonly customerId: string;
  readonly items: readonly OrderLine[];
  /** Sum of quantity x unit price, in minor units. */
  readonly total: number;
  readonly createdAt: string;
}

export type OrderStatus = OrderState['status'];

export type OrderState =
  | { readonly status: 'NONE' }
  | { readonly status: 'PENDING'; readonly order: OrderDetails }
  | {
      readonly status: 'CONFIRMED';
      readonly order: OrderDetails;
      readonly approvedAt: string;
      /** Set once the customer asks to cancel: the saga is compensating. */
      readonly cancellation: { readonly reason: string; readonly requestedAt: string } | null;
    }
  | {
      readonly status: 'REJECTED';
      readonly order: OrderDetails;
      readonly rejectionReason: string;
      readonly rejectedAt: string;
    }
  | {
      readonly status: 'CANCELLED';
      readonly order: OrderDetails;
      readonly cancellationReason: string;
      readonly cancelledAt: string;
    };
