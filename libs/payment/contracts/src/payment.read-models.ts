// The payment context's read model as the projection service writes it and the payment service
// reads it.
import { identifier, isoInstant, money, z } from '@es/schema';

export const recentPaymentStatusSchema = z.enum(['AUTHORIZED', 'VOIDED', 'CAPTURED', 'REFUNDED']);
export type RecentPaymentStatus = z.output<typeof recentPaymentStatusSchema>;

export const recentPaymentSchema = z.strictObject({
  paymentId: identifier,
  amount: money,
  status: recentPaymentStatusSchema,
  at: isoInstant,
});
export type RecentPayment = Readonly<z.output<typeof recentPaymentSchema>>;

/** A customer's account: balance, funds held for authorized payments, the latest payments. */
export const CUSTOMER_ACCOUNT_READ_MODEL = 'customer-account';
export const RECENT_PAYMENTS_KEPT = 10;
export const customerAccountDocumentSchema = z.strictObject({
  customerId: identifier,
  balance: money,
  reserved: money,
  available: z.number().int(),
  /** Newest first, at most RECENT_PAYMENTS_KEPT. */
  recentPayments: z.array(recentPaymentSchema).max(RECENT_PAYMENTS_KEPT),
  updatedAt: isoInstant,
  /** The account stream's version this document reflects. */
  version: z.number().int().positive(),
});
export type CustomerAccountDocument = Readonly<z.output<typeof customerAccountDocumentSchema>>;
