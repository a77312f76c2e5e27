// A customer's account: balance, funds held for authorized payments, the latest payments, and
// who holds it, sealed as the event carried it (the payment service opens it); blanked when the
// customer's data is erased (DataSubjectErased, on the same topic and key as the account's
// events), which a rebuild gives too: sealed under a destroyed key, it would read erased anyway.
import {
  CUSTOMER_ACCOUNT_READ_MODEL,
  DataSubjectErased,
  PAYMENTS_EVENTS_TOPIC,
  RECENT_PAYMENTS_KEPT,
  accountEventSchemas,
  type CustomerAccountDocument,
  type RecentPayment,
  type RecentPaymentStatus,
} from '@es/payment-contracts';
import { defineProjection } from '@es/read-models';

const ERASED = { erased: true } as const;

const paymentStatusAfter = {
  FundsReserved: 'AUTHORIZED',
  FundsReleased: 'VOIDED',
  FundsDebited: 'CAPTURED',
  FundsCredited: 'REFUNDED',
} as const satisfies Record<string, RecentPaymentStatus>;

function withPayment(recent: readonly RecentPayment[], payment: RecentPayment): RecentPayment[] {
  return [payment, ...recent.filter((p) => p.paymentId !== payment.paymentId)].slice(
    0,
    RECENT_PAYMENTS_KEPT,
  );
}

export const customerAccount = defineProjection({
  name: CUSTOMER_ACCOUNT_READ_MODEL,
  description: 'A customer account: balance, reserved, available, recent payments',
  topics: [PAYMENTS_EVENTS_TOPIC],
  schemas: [...accountEventSchemas, DataSubjectErased],
  documentId: (event) => event.data.customerId,
  evolve(doc: CustomerAccountDocument | null, event): CustomerAccountDocument | null {
    if (event.type === 'DataSubjectErased') {
      // Not the account's own stream: its version and time stay the account's.
      if (!doc?.holder) return doc;
      return { ...doc, holder: { name: ERASED, email: ERASED } };
    }
    if (event.type === 'AccountHolderRecorded') {
      const { customerId, name, email } = event.data;
      const base = doc ?? {
        customerId,
        balance: 0,
        reserved: 0,
        available: 0,
        recentPayments: [],
      };
      return {
        ...base,
        holder: { name, email },
        updatedAt: event.recordedAt,
        version: event.streamVersion,
      };
    }
    const current = doc ?? {
      customerId: event.data.customerId,
      balance: 0,
      reserved: 0,
      recentPayments: [],
    };
    let { balance, reserved } = current;
    let recentPayments = current.recentPayments;
    if (event.type === 'FundsDeposited') balance += event.data.amount;
    else {
      const { paymentId, amount } = event.data;
      switch (event.type) {
        case 'FundsReserved':
          reserved += amount;
          break;
        case 'FundsReleased':
          reserved -= amount;
          break;
        case 'FundsDebited':
          balance -= amount;
          reserved -= amount;
          break;
        case 'FundsCredited':
          balance += amount;
          break;
      }
      recentPayments = withPayment(recentPayments, {
        paymentId,
        amount,
        status: paymentStatusAfter[event.type],
        at: event.recordedAt,
      });
    }
    return {
      customerId: current.customerId,
      balance,
      reserved,
      available: balance - reserved,
      recentPayments,
      updatedAt: event.recordedAt,
      version: event.streamVersion,
      ...(doc?.holder ? { holder: doc.holder } : {}),
    };
  },
});
