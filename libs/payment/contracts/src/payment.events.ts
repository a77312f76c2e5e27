// The payment context's events as published on `payments.events`: a customer account's funds
// (keyed by customer id) and each payment's life (keyed by payment id).
import {
  emailAddress,
  identifier,
  isoInstant,
  money,
  personName,
  personalField,
  positiveInt,
  versioned,
  z,
  type EventOf,
} from '@es/schema';

export const ACCOUNT_STREAM_TYPE = 'account';
/** A customer as a data subject (docs/privacy.md): the erasures of their personal data. */
export const DATA_SUBJECT_STREAM_TYPE = 'data-subject';
export const PAYMENT_STREAM_TYPE = 'payment';
export const PAYMENTS_EVENTS_TOPIC = 'payments.events';

const hold = z.strictObject({ customerId: identifier, paymentId: identifier, amount: positiveInt });

export const FundsDeposited = versioned(
  'FundsDeposited',
  1,
  z.strictObject({ customerId: identifier, amount: positiveInt }),
);
/** Held for an authorized payment: no longer available, still in the balance. */
export const FundsReserved = versioned('FundsReserved', 1, hold);
/** A hold given back (the payment was voided). */
export const FundsReleased = versioned('FundsReleased', 1, hold);
/** A hold taken from the balance (the payment was captured). */
export const FundsDebited = versioned('FundsDebited', 1, hold);
/** A captured payment's amount returned to the balance (refund). */
export const FundsCredited = versioned('FundsCredited', 1, hold);

/**
 * Who holds the account: their name and email, personal data of the customer (docs/privacy.md),
 * sealed under their key wherever the event is stored or published. A new account starts with it.
 */
export const AccountHolderRecorded = versioned(
  'AccountHolderRecorded',
  1,
  z.strictObject({
    customerId: identifier,
    name: personalField(personName),
    email: personalField(emailAddress),
    recordedAt: isoInstant,
  }),
  { personal: { subject: 'customerId', fields: ['name', 'email'] } },
);

export const accountEventSchemas = [
  FundsDeposited,
  AccountHolderRecorded,
  FundsReserved,
  FundsReleased,
  FundsDebited,
  FundsCredited,
] as const;

const paymentRef = { paymentId: identifier };
export const PaymentAuthorized = versioned(
  'PaymentAuthorized',
  1,
  z.strictObject({
    ...paymentRef,
    orderId: identifier,
    customerId: identifier,
    amount: money,
    authorizedAt: isoInstant,
  }),
);
export const PaymentDeclined = versioned(
  'PaymentDeclined',
  1,
  z.strictObject({
    ...paymentRef,
    orderId: identifier,
    customerId: identifier,
    amount: money,
    reason: z.enum(['INSUFFICIENT_FUNDS']),
    available: money,
    declinedAt: isoInstant,
  }),
);
export const PaymentCaptured = versioned(
  'PaymentCaptured',
  1,
  z.strictObject({ ...paymentRef, capturedAt: isoInstant }),
);
export const PaymentVoided = versioned(
  'PaymentVoided',
  1,
  z.strictObject({ ...paymentRef, voidedAt: isoInstant }),
);
export const PaymentRefunded = versioned(
  'PaymentRefunded',
  1,
  z.strictObject({ ...paymentRef, refundedAt: isoInstant }),
);

export const paymentEventSchemas = [
  PaymentAuthorized,
  PaymentDeclined,
  PaymentCaptured,
  PaymentVoided,
  PaymentRefunded,
] as const;

export type AccountEvent = EventOf<(typeof accountEventSchemas)[number]>;
export type PaymentEvent = EventOf<(typeof paymentEventSchemas)[number]>;

/**
 * A customer's personal data erased (POST /customers/{customerId}/erase): every key it was
 * sealed under destroyed, so every copy of it, wherever it went, is ciphertext nothing opens.
 * The record of the act holds no personal data; its actor is in the metadata.
 */
export const DataSubjectErased = versioned(
  'DataSubjectErased',
  1,
  z.strictObject({
    customerId: identifier,
    keysErased: z.number().int().nonnegative(),
    erasedAt: isoInstant,
  }),
);

export const dataSubjectEventSchemas = [DataSubjectErased] as const;
export type DataSubjectEvent = EventOf<(typeof dataSubjectEventSchemas)[number]>;
