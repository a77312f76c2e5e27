import type { OrderLine } from '@es/order-contracts';
import type { PostalAddress } from '@es/schema';

/** The customer's contact for an order: personal data, sealed by the event store. */
export interface OrderContact {
  readonly name: string;
  readonly email: string;
  readonly shippingAddress: PostalAddress;
}

/** Time arrives in the command (`at`, ISO-8601): the decider reads no clock. */
export type OrderCommand =
  | {
      readonly type: 'CreateOrder';
      readonly orderId: string;
      readonly customerId: string;
      readonly items: readonly OrderLine[];
      readonly contact: OrderContact;
      readonly at: string;
    }
  | { readonly type: 'ApproveOrder'; readonly at: string }
  | { readonly type: 'RejectOrder'; readonly reason: string; readonly at: string }
  /** The customer's cancellation. */
  | { readonly type: 'CancelOrder'; readonly reason: string; readonly at: string }
  /** The saga has compensated a confirmed order's cancellation. */
  | { readonly type: 'CompleteOrderCancellation'; readonly at: string };
