// An order as the REST API shows it (docs/decisions.md, Services: status PENDING | CONFIRMED | REJECTED |
// CANCELLED, with rejectionReason).
import type { OrderLine } from '@es/order-contracts';
import type { OrderState } from '@es/order-domain';

export interface OrderView {
  readonly orderId: string;
  readonly customerId: string;
  readonly status: 'PENDING' | 'CONFIRMED' | 'REJECTED' | 'CANCELLED';
  readonly items: readonly OrderLine[];
  readonly total: number;
  readonly createdAt: string;
  readonly rejectionReason?: string;
  readonly cancellationReason?: string;
  /** Set while a confirmed order's cancellation is being compensated. */
  readonly cancellationRequestedAt?: string;
  readonly version: number;
}

export function orderView(state: OrderState, version: number): OrderView | undefined {
  if (state.status === 'NONE') return undefined;
  const { orderId, customerId, items, total, createdAt } = state.order;
  const base = { orderId, customerId, status: state.status, items, total, createdAt, version };
  switch (state.status) {
    case 'PENDING':
      return base;
    case 'CONFIRMED':
      return state.cancellation
        ? { ...base, cancellationRequestedAt: state.cancellation.requestedAt }
        : base;
    case 'REJECTED':
      return { ...base, rejectionReason: state.rejectionReason };
    case 'CANCELLED':
      return { ...base, cancellationReason: state.cancellationReason };
  }
}
