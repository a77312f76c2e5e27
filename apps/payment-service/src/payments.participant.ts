// Payments' part in the order saga: the commands on `payments.commands`, each decided here,
// handled once (inbox) and answered on `sagas.replies` in the append of its effect.
import { assertNever } from '@es/decider';
import { mapDecision, type CommandHandler as EventStoreCommandHandler } from '@es/event-store';
import {
  PAYMENTS_COMMANDS_TOPIC,
  paymentSagaCommandSchema,
  type PaymentSagaCommand,
} from '@es/payment-contracts';
import { failure, success, type ReplyResult } from '@es/saga-contracts';
import type { ParticipantDefinition } from '@es/saga-participant';
import { authorization, settlement, type SettlementOutcome } from './payments.commands';

/** Each settlement's reply codes (its contract): a refusal outside them is its nearest one. */
const refusalCodes = {
  capture: 'PAYMENT_NOT_AUTHORIZED',
  void: 'PAYMENT_ALREADY_CAPTURED',
  refund: 'PAYMENT_NOT_CAPTURED',
} as const;

const settled =
  (action: keyof typeof refusalCodes) =>
  (outcome: SettlementOutcome): ReplyResult =>
    outcome.outcome === 'settled'
      ? success({ paymentId: outcome.paymentId })
      : failure(refusalCodes[action], outcome.message, { refusedWith: outcome.code });

function decide(
  command: PaymentSagaCommand,
  { handler }: { readonly handler: EventStoreCommandHandler },
) {
  const settle = (action: keyof typeof refusalCodes) =>
    mapDecision(settlement(command.data.paymentId, action), settled(action));
  switch (command.type) {
    case 'AuthorizePayment':
      return mapDecision(authorization(handler, command.data), (outcome) =>
        outcome.outcome === 'authorized'
          ? success({ paymentId: outcome.paymentId })
          : // Why, but not the balance: the reason is shown to whoever can read the order.
            failure(
              outcome.reason,
              `the customer's available funds do not cover ${outcome.amount}`,
              {
                amount: outcome.amount,
              },
            ),
      );
    case 'CapturePayment':
      return settle('capture');
    case 'VoidPayment':
      return settle('void');
    case 'RefundPayment':
      return settle('refund');
    default:
      return assertNever(command);
  }
}

/** Payments' participant: a payment's authorization, capture, void and refund. */
export const paymentsParticipant: ParticipantDefinition<PaymentSagaCommand> = {
  topic: PAYMENTS_COMMANDS_TOPIC,
  schema: paymentSagaCommandSchema,
  decide,
};
