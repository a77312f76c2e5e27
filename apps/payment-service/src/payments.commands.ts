// Payments' commands: deposits (REST), and a payment's authorization, capture, void and refund
// (the saga's steps). Each payment step changes the payment and the customer's account together,
// in one transaction: a hold is never without its authorization, nor a debit without its capture.
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { DomainError } from '@es/decider';
import {
  CommandsRefusedError,
  onStream,
  type CommandHandler as EventStoreCommandHandler,
  type HandleContext,
} from '@es/event-store';
import { ACCOUNT_STREAM_TYPE } from '@es/payment-contracts';
import { type AccountCommand, type PaymentCommand, type PaymentDetails } from '@es/payment-domain';
import {
  COMMAND_HANDLER,
  accepted,
  answered,
  replying,
  type Accepted,
  type CommandRequest,
  type Reply,
} from '@es/service-runtime';
import { accountAggregate, paymentAggregate } from './payment.aggregates';

export interface AccountAccepted extends Accepted {
  readonly customerId: string;
}

export type AuthorizationOutcome =
  | { readonly outcome: 'authorized'; readonly paymentId: string }
  | {
      readonly outcome: 'declined';
      readonly paymentId: string;
      readonly reason: 'INSUFFICIENT_FUNDS';
      readonly amount: number;
      readonly available: number;
    };

export class DepositFunds extends Command<AccountAccepted> {
  constructor(
    readonly customerId: string,
    readonly amount: number,
    readonly request: CommandRequest,
  ) {
    super();
  }
}

export type SettlementOutcome =
  | { readonly outcome: 'settled'; readonly paymentId: string }
  | {
      readonly outcome: 'refused';
      readonly paymentId: string;
      readonly code: string;
      readonly message: string;
    };

/** `reply`: the saga's answer, written with the effect (or with the refusal). */
export class AuthorizePayment extends Command<AuthorizationOutcome> {
  constructor(
    readonly payment: PaymentDetails,
    readonly context: HandleContext,
    readonly reply?: Reply<AuthorizationOutcome>,
  ) {
    super();
  }
}

/** Capture, void or refund an existing payment. */
export class SettlePayment extends Command<SettlementOutcome> {
  constructor(
    readonly paymentId: string,
    readonly action: 'capture' | 'void' | 'refund',
    readonly context: HandleContext,
    readonly reply?: Reply<SettlementOutcome>,
  ) {
    super();
  }
}

@CommandHandler(DepositFunds)
export class DepositFundsHandler implements ICommandHandler<DepositFunds> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ customerId, amount, request }: DepositFunds): Promise<AccountAccepted> {
    const result = await this.handler.handle(
      accountAggregate,
      customerId,
      { type: 'DepositFunds', customerId, amount },
      request,
    );
    return { customerId, ...accepted(ACCOUNT_STREAM_TYPE, customerId, result.version) };
  }
}

function insufficientFunds(error: unknown): { amount: number; available: number } | undefined {
  const refusals = error instanceof CommandsRefusedError ? error.refusals.map((r) => r.error) : [];
  const short = refusals.find((e) => e.code === 'INSUFFICIENT_FUNDS');
  return short instanceof DomainError && refusals.length === 1
    ? (short.details as { amount: number; available: number })
    : undefined;
}

@CommandHandler(AuthorizePayment)
export class AuthorizePaymentHandler implements ICommandHandler<AuthorizePayment> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ payment, context, reply }: AuthorizePayment): Promise<AuthorizationOutcome> {
    const at = new Date().toISOString();
    const authorized: AuthorizationOutcome = {
      outcome: 'authorized',
      paymentId: payment.paymentId,
    };
    try {
      const result = await this.handler.handleAll(
        [
          onStream(accountAggregate, payment.customerId, {
            type: 'ReserveFunds',
            paymentId: payment.paymentId,
            amount: payment.amount,
          }),
          // A payment id is new per order; a repeat conflicts, and the retry loads it.
          onStream(
            paymentAggregate,
            payment.paymentId,
            { type: 'AuthorizePayment', ...payment, at },
            { assumeNew: true },
          ),
        ],
        replying(context, reply, authorized),
      );
      if (result.duplicate) return await this.recordedOutcome(payment);
      return authorized;
    } catch (error) {
      const short = insufficientFunds(error);
      if (!short) {
        // Handled before under another message id: the payment's recorded outcome stands.
        const recorded = await this.recordedOutcome(
          payment,
          error instanceof Error ? error : new Error(String(error)),
        );
        return answered(this.handler, context, reply, recorded);
      }
      const outcome: AuthorizationOutcome = {
        outcome: 'declined',
        paymentId: payment.paymentId,
        reason: 'INSUFFICIENT_FUNDS',
        ...short,
      };
      // A decline is a fact about the payment: recorded, so GET /payments/:id can say why.
      const declined = await this.handler.handle(
        paymentAggregate,
        payment.paymentId,
        {
          type: 'DeclinePayment',
          ...payment,
          reason: 'INSUFFICIENT_FUNDS',
          available: short.available,
          at,
        },
        replying(context, reply, outcome),
      );
      if (declined.duplicate) return this.recordedOutcome(payment);
      return outcome;
    }
  }

  /**
   * The outcome this payment already has, for a repeated authorization (a redelivered or
   * re-sent command): a decline stays a decline. A payment of other details, or none, is the
   * refusal's business: it is rethrown.
   */
  private async recordedOutcome(
    payment: PaymentDetails,
    refusal?: Error,
  ): Promise<AuthorizationOutcome> {
    const { state } = await this.handler.load(paymentAggregate, payment.paymentId);
    const same =
      state.status !== 'NONE' &&
      state.payment.orderId === payment.orderId &&
      state.payment.customerId === payment.customerId &&
      state.payment.amount === payment.amount;
    if (!same) {
      if (refusal !== undefined) throw refusal;
      throw new Error(`payment ${payment.paymentId} was handled but is not recorded`);
    }
    if (state.status === 'DECLINED')
      return {
        outcome: 'declined',
        paymentId: payment.paymentId,
        reason: state.reason,
        amount: state.payment.amount,
        available: state.available,
      };
    return { outcome: 'authorized', paymentId: payment.paymentId };
  }
}

@CommandHandler(SettlePayment)
export class SettlePaymentHandler implements ICommandHandler<SettlePayment> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  /**
   * The account follows the payment: it is changed only when the payment itself changes, in
   * the same unit of work, at the version it was decided on. A repeated refund is a no-op on
   * the payment and so credits nothing; a payment that moved on meanwhile is reloaded and
   * decided again (the command handler's loop).
   */
  async execute({ paymentId, action, context, reply }: SettlePayment): Promise<SettlementOutcome> {
    const settled: SettlementOutcome = { outcome: 'settled', paymentId };
    try {
      await this.settle(paymentId, action, replying(context, reply, settled));
      return settled;
    } catch (error) {
      const refusal = error instanceof CommandsRefusedError ? error.refusals[0]?.error : error;
      if (!(refusal instanceof DomainError)) throw error;
      return answered(this.handler, context, reply, {
        outcome: 'refused',
        paymentId,
        code: refusal.code,
        message: refusal.message,
      });
    }
  }

  private async settle(
    paymentId: string,
    action: SettlePayment['action'],
    context: HandleContext,
  ): Promise<void> {
    const at = new Date().toISOString();
    const paymentCommand: PaymentCommand = {
      capture: { type: 'CapturePayment', at } as const,
      void: { type: 'VoidPayment', at } as const,
      refund: { type: 'RefundPayment', at } as const,
    }[action];
    // Done before, or nothing to do: no event, and the payment's version check, inbox mark and
    // reply are written all the same (a redelivery answers the same).
    await this.handler.handleAll(
      [
        onStream(paymentAggregate, paymentId, paymentCommand, {
          follows: (payment, events) => {
            if (events.length === 0 || payment.status === 'NONE') return [];
            const { customerId, amount } = payment.payment;
            const accountCommand: AccountCommand = {
              capture: { type: 'DebitFunds', paymentId } as const,
              void: { type: 'ReleaseFunds', paymentId } as const,
              refund: { type: 'CreditFunds', paymentId, amount } as const,
            }[action];
            return [onStream(accountAggregate, customerId, accountCommand)];
          },
        }),
      ],
      context,
    );
  }
}
