// Payments' part in the order saga: the commands on `payments.commands`, each handled once
// (inbox) and answered on `sagas.replies` in the transaction of its effect.
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { assertNever } from '@es/decider';
import {
  PAYMENTS_COMMANDS_TOPIC,
  paymentSagaCommandSchema,
  type PaymentSagaCommand,
} from '@es/payment-contracts';
import {
  MessageConsumers,
  failure,
  success,
  type ParticipantRequest,
  type ReplyResult,
} from '@es/service-runtime';
import { AuthorizePayment, SettlePayment, type SettlementOutcome } from './payments.commands';

/** Each settlement's reply codes (its contract): a refusal outside them is its nearest one. */
const refusalCodes = {
  capture: 'PAYMENT_NOT_AUTHORIZED',
  void: 'PAYMENT_ALREADY_CAPTURED',
  refund: 'PAYMENT_NOT_CAPTURED',
} as const;

const settlementReply =
  (action: keyof typeof refusalCodes) =>
  (outcome: SettlementOutcome): ReplyResult =>
    outcome.outcome === 'settled'
      ? success({ paymentId: outcome.paymentId })
      : failure(refusalCodes[action], outcome.message, { refusedWith: outcome.code });

@Injectable()
export class PaymentsParticipant implements OnModuleInit {
  constructor(
    @Inject(MessageConsumers) private readonly consumers: MessageConsumers,
    private readonly commandBus: CommandBus,
  ) {}

  onModuleInit(): void {
    this.consumers.participate({
      topic: PAYMENTS_COMMANDS_TOPIC,
      schema: paymentSagaCommandSchema,
      handle: (request) => this.handle(request),
    });
  }

  private async handle({
    command,
    context,
    reply,
  }: ParticipantRequest<PaymentSagaCommand>): Promise<void> {
    const settle = async (action: keyof typeof refusalCodes) => {
      const toReply = settlementReply(action);
      await this.commandBus.execute(
        new SettlePayment(command.data.paymentId, action, context, (o) => reply(toReply(o))),
      );
    };
    switch (command.type) {
      case 'AuthorizePayment':
        await this.commandBus.execute(
          new AuthorizePayment(command.data, context, (outcome) =>
            reply(
              outcome.outcome === 'authorized'
                ? success({ paymentId: outcome.paymentId })
                : failure(
                    outcome.reason,
                    `${outcome.amount} requested, ${outcome.available} available`,
                    { amount: outcome.amount, available: outcome.available },
                  ),
            ),
          ),
        );
        return;
      case 'CapturePayment':
        return settle('capture');
      case 'VoidPayment':
        return settle('void');
      case 'RefundPayment':
        return settle('refund');
      default:
        assertNever(command);
    }
  }
}
