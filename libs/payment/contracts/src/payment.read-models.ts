// The payment context's read model as the projection service writes it and the payment service
// reads it.

export type RecentPaymentStatus = 'AUTHORIZED' | 'VOIDED' | 'CAPTURED' | 'REFUNDED';

export interface RecentPayment {
  readonly paymentId: string;
  readonly amount: number;
  readonly status: RecentPaymentStatus;
  readonly at: string;
}

/** A customer's account: balance, funds held for authorized payments, the latest payments. */
export const CUSTOMER_ACCOUNT_READ_MODEL = 'customer-account';
export const RECENT_PAYMENTS_KEPT = 10;
export interface CustomerAccountDocument {
  readonly customerId: string;
  readonly balance: number;
  readonly reserved: number;
  readonly available: number;
  /** Newest first, at most RECENT_PAYMENTS_KEPT. */
  readonly recentPayments: readonly RecentPayment[];
  readonly updatedAt: string;
  /** The account stream's version this document reflects. */
  readonly version: number;
}
