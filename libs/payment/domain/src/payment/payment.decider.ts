// A payment for an order: AUTHORIZED (funds held) or DECLINED (with why), then CAPTURED or
// VOIDED; a captured payment may be REFUNDED (a refund asked of an authorization voids it). Repeating a step that already happened changes
// nothing, so a saga's retried command or compensation is harmless.
import { DomainError, assertNever, type Decider } from '@es/decider';
import type { PaymentEvent } from '@es/payment-contracts';

export interface PaymentDetails {
  readonly paymentId: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: number;
}

export type PaymentCommand =
  | ({ readonly type: 'AuthorizePayment'; readonly at: string } & PaymentDetails)
  | ({
      readonly type: 'DeclinePayment';
      readonly reason: 'INSUFFICIENT_FUNDS';
      readonly available: number;
      readonly at: string;
    } & PaymentDetails)
  | { readonly type: 'CapturePayment'; readonly at: string }
  | { readonly type: 'VoidPayment'; readonly at: string }
  | { readonly type: 'RefundPayment'; readonly at: string };

export type PaymentState =
  | { readonly status: 'NONE' }
  | {
      readonly status: 'AUTHORIZED';
      readonly payment: PaymentDetails;
      readonly authorizedAt: string;
    }
  | {
      readonly status: 'DECLINED';
      readonly payment: PaymentDetails;
      readonly reason: 'INSUFFICIENT_FUNDS';
      /** What the account had available when the payment was declined. */
      readonly available: number;
      readonly declinedAt: string;
    }
  | { readonly status: 'CAPTURED'; readonly payment: PaymentDetails; readonly capturedAt: string }
  | { readonly status: 'VOIDED'; readonly payment: PaymentDetails; readonly voidedAt: string }
  | { readonly status: 'REFUNDED'; readonly payment: PaymentDetails; readonly refundedAt: string };

const details = (d: PaymentDetails): PaymentDetails => ({
  paymentId: d.paymentId,
  orderId: d.orderId,
  customerId: d.customerId,
  amount: d.amount,
});

const sameDetails = (a: PaymentDetails, b: PaymentDetails) =>
  a.orderId === b.orderId && a.customerId === b.customerId && a.amount === b.amount;

function conflict(state: Exclude<PaymentState, { status: 'NONE' }>): DomainError {
  return new DomainError(
    'PAYMENT_CONFLICT',
    `payment ${state.payment.paymentId} is ${state.status}`,
    {
      status: state.status,
    },
  );
}

function decide(command: PaymentCommand, state: PaymentState): readonly PaymentEvent[] {
  switch (command.type) {
    case 'AuthorizePayment':
      if (state.status === 'NONE')
        return [
          { type: 'PaymentAuthorized', data: { ...details(command), authorizedAt: command.at } },
        ];
      if (state.status === 'AUTHORIZED' && sameDetails(state.payment, command)) return [];
      throw conflict(state);
    case 'DeclinePayment':
      if (state.status === 'NONE')
        return [
          {
            type: 'PaymentDeclined',
            data: {
              ...details(command),
              reason: command.reason,
              available: command.available,
              declinedAt: command.at,
            },
          },
        ];
      if (state.status === 'DECLINED' && sameDetails(state.payment, command)) return [];
      throw conflict(state);
    case 'CapturePayment':
      if (state.status === 'NONE') throw new DomainError('PAYMENT_NOT_FOUND', 'no such payment');
      if (state.status === 'CAPTURED') return [];
      if (state.status !== 'AUTHORIZED')
        throw new DomainError('PAYMENT_NOT_AUTHORIZED', `payment is ${state.status}`, {
          status: state.status,
        });
      return [
        {
          type: 'PaymentCaptured',
          data: { paymentId: state.payment.paymentId, capturedAt: command.at },
        },
      ];
    case 'VoidPayment':
      if (state.status === 'AUTHORIZED')
        return [
          {
            type: 'PaymentVoided',
            data: { paymentId: state.payment.paymentId, voidedAt: command.at },
          },
        ];
      if (state.status === 'CAPTURED' || state.status === 'REFUNDED')
        throw new DomainError(
          'PAYMENT_ALREADY_CAPTURED',
          `payment is ${state.status}: refund it instead`,
          { status: state.status },
        );
      return []; // never authorized, declined or voided already: nothing is held
    case 'RefundPayment':
      // Giving the customer's money back: a capture is refunded, an authorization never
      // captured is voided (its hold released); either happens once.
      if (state.status === 'REFUNDED' || state.status === 'VOIDED') return [];
      if (state.status === 'AUTHORIZED')
        return [
          {
            type: 'PaymentVoided',
            data: { paymentId: state.payment.paymentId, voidedAt: command.at },
          },
        ];
      if (state.status !== 'CAPTURED')
        throw new DomainError('PAYMENT_NOT_CAPTURED', `payment is ${state.status}`, {
          status: state.status,
        });
      return [
        {
          type: 'PaymentRefunded',
          data: { paymentId: state.payment.paymentId, refundedAt: command.at },
        },
      ];
    default:
      return assertNever(command);
  }
}

function evolve(state: PaymentState, event: PaymentEvent): PaymentState {
  switch (event.type) {
    case 'PaymentAuthorized':
      return {
        status: 'AUTHORIZED',
        payment: details(event.data),
        authorizedAt: event.data.authorizedAt,
      };
    case 'PaymentDeclined':
      return {
        status: 'DECLINED',
        payment: details(event.data),
        reason: event.data.reason,
        available: event.data.available,
        declinedAt: event.data.declinedAt,
      };
    case 'PaymentCaptured':
      return state.status === 'NONE'
        ? state
        : { status: 'CAPTURED', payment: state.payment, capturedAt: event.data.capturedAt };
    case 'PaymentVoided':
      return state.status === 'NONE'
        ? state
        : { status: 'VOIDED', payment: state.payment, voidedAt: event.data.voidedAt };
    case 'PaymentRefunded':
      return state.status === 'NONE'
        ? state
        : { status: 'REFUNDED', payment: state.payment, refundedAt: event.data.refundedAt };
    default:
      return assertNever(event);
  }
}

export const paymentDecider: Decider<PaymentCommand, PaymentEvent, PaymentState> = {
  initialState: () => ({ status: 'NONE' }),
  decide,
  evolve,
};
