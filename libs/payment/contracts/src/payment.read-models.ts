// The payment context's read model as the projection service writes it and the payment service
// reads it.
import {
  emailAddress,
  identifier,
  isoInstant,
  money,
  openedField,
  personName,
  personalField,
  z,
} from '@es/schema';

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
  /**
   * Who holds it, as AccountHolderRecorded carried it: sealed under the customer's key (the
   * payment service opens it), erased once the customer is. Absent until recorded.
   */
  holder: z
    .strictObject({ name: personalField(personName), email: personalField(emailAddress) })
    .optional(),
});
export type CustomerAccountDocument = Readonly<z.output<typeof customerAccountDocumentSchema>>;
/** The account as GET /accounts/{customerId} answers it: its holder opened, or erased. */
export const customerAccountAnswerSchema = customerAccountDocumentSchema.extend({
  holder: z
    .strictObject({ name: openedField(personName), email: openedField(emailAddress) })
    .optional(),
});
export type CustomerAccountAnswer = Readonly<z.output<typeof customerAccountAnswerSchema>>;
