import { deciderSpec, everyCommandInEveryState, type Expected } from '@es/decider';
import type { PaymentEvent } from '@es/payment-contracts';
import { paymentDecider, type PaymentCommand } from './payment.decider';

const at = '2026-11-23T10:00:00.000Z';
const payment = { paymentId: 'p-1', orderId: 'o-1', customerId: 'c-1', amount: 2_599 };
const authorized: PaymentEvent = {
  type: 'PaymentAuthorized',
  data: { ...payment, authorizedAt: at },
};
const declined: PaymentEvent = {
  type: 'PaymentDeclined',
  data: { ...payment, reason: 'INSUFFICIENT_FUNDS', available: 10, declinedAt: at },
};
const captured: PaymentEvent = {
  type: 'PaymentCaptured',
  data: { paymentId: 'p-1', capturedAt: at },
};
const voided: PaymentEvent = { type: 'PaymentVoided', data: { paymentId: 'p-1', voidedAt: at } };
const refunded: PaymentEvent = {
  type: 'PaymentRefunded',
  data: { paymentId: 'p-1', refundedAt: at },
};

const commands = {
  authorize: { type: 'AuthorizePayment', ...payment, at },
  decline: { type: 'DeclinePayment', ...payment, reason: 'INSUFFICIENT_FUNDS', available: 10, at },
  capture: { type: 'CapturePayment', at },
  void: { type: 'VoidPayment', at },
  refund: { type: 'RefundPayment', at },
} satisfies Record<string, PaymentCommand>;

const histories = {
  none: [],
  authorized: [authorized],
  declined: [declined],
  captured: [authorized, captured],
  voided: [authorized, voided],
  refunded: [authorized, captured, refunded],
} satisfies Record<string, PaymentEvent[]>;

const table: Record<
  keyof typeof histories,
  Record<keyof typeof commands, Expected<PaymentEvent>>
> = {
  none: {
    authorize: { events: [authorized] },
    decline: { events: [declined] },
    capture: { error: 'PAYMENT_NOT_FOUND' },
    void: { events: [] },
    refund: { error: 'PAYMENT_NOT_CAPTURED' },
  },
  authorized: {
    authorize: { events: [] },
    decline: { error: 'PAYMENT_CONFLICT' },
    capture: { events: [captured] },
    void: { events: [voided] },
    refund: { events: [voided] }, // money back before any was taken: the hold is voided
  },
  declined: {
    authorize: { error: 'PAYMENT_CONFLICT' },
    decline: { events: [] },
    capture: { error: 'PAYMENT_NOT_AUTHORIZED' },
    void: { events: [] },
    refund: { error: 'PAYMENT_NOT_CAPTURED' },
  },
  captured: {
    authorize: { error: 'PAYMENT_CONFLICT' },
    decline: { error: 'PAYMENT_CONFLICT' },
    capture: { events: [] },
    void: { error: 'PAYMENT_ALREADY_CAPTURED' },
    refund: { events: [refunded] },
  },
  voided: {
    authorize: { error: 'PAYMENT_CONFLICT' },
    decline: { error: 'PAYMENT_CONFLICT' },
    capture: { error: 'PAYMENT_NOT_AUTHORIZED' },
    void: { events: [] },
    refund: { events: [] }, // voided already: nothing was taken
  },
  refunded: {
    authorize: { error: 'PAYMENT_CONFLICT' },
    decline: { error: 'PAYMENT_CONFLICT' },
    capture: { error: 'PAYMENT_NOT_AUTHORIZED' },
    void: { error: 'PAYMENT_ALREADY_CAPTURED' },
    refund: { events: [] },
  },
};

const spec = deciderSpec(paymentDecider);

describe('payment decider: every command in every state', () => {
  it.each(everyCommandInEveryState(paymentDecider, histories, commands, table))(
    'given %s, when %s',
    (_state, _command, actual, expected) => {
      expect(actual).toEqual(expected);
    },
  );
});

describe('payment decider: rules and state', () => {
  it('refuses to authorize the same payment id for another order or amount', () => {
    const outcome = spec
      .given(histories.authorized)
      .when({ ...commands.authorize, amount: payment.amount + 1 });
    expect(outcome.error?.code).toBe('PAYMENT_CONFLICT');
  });

  it('folds to status variants that keep the payment details', () => {
    expect(spec.given(histories.declined).state).toEqual({
      status: 'DECLINED',
      payment,
      reason: 'INSUFFICIENT_FUNDS',
      available: 10,
      declinedAt: at,
    });
    expect(spec.given(histories.refunded).state).toEqual({
      status: 'REFUNDED',
      payment,
      refundedAt: at,
    });
  });
});
