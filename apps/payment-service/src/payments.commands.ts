// Payments' commands: deposits and account holders (REST), a customer's erasure (REST, for
// operators), and a payment's authorization, capture, void and refund (the saga's steps). Each
// payment step changes the payment and the customer's account together, in one transaction: a
// hold is never without its authorization, nor a debit without its capture.
import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import {
  CommandsRefusedError,
  answer,
  answerRefusal,
  onStream,
  type CommandHandler as EventStoreCommandHandler,
  type Decision,
  type HandleContext,
  type PostgresEventStore,
  type Refusal,
} from '@es/event-store';
import { ACCOUNT_STREAM_TYPE, DATA_SUBJECT_STREAM_TYPE } from '@es/payment-contracts';
import { type AccountCommand, type PaymentCommand, type PaymentDetails } from '@es/payment-domain';
import {
  COMMAND_HANDLER,
  EVENT_STORE,
  PERSONAL_DATA,
  accepted,
  type Accepted,
  type CommandRequest,
  type PersonalData,
} from '@es/service-runtime';
import { accountAggregate, dataSubjectAggregate, paymentAggregate } from './payment.aggregates';

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

export class AuthorizePayment extends Command<AuthorizationOutcome> {
  constructor(
    readonly payment: PaymentDetails,
    readonly context: HandleContext,
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

function insufficientFunds(
  refusals: readonly Refusal[],
): { amount: number; available: number } | undefined {
  const [only, ...more] = refusals;
  return only?.error.code === 'INSUFFICIENT_FUNDS' && more.length === 0
    ? (only.error.details as { amount: number; available: number })
    : undefined;
}

/**
 * The outcome this payment already has, for a repeated authorization (a redelivered or re-sent
 * command): a decline stays a decline. A payment of other details, or none, is the refusal's
 * business: it is thrown.
 */
async function recordedOutcome(
  handler: EventStoreCommandHandler,
  payment: PaymentDetails,
  refusal?: Error,
): Promise<AuthorizationOutcome> {
  const { state } = await handler.load(paymentAggregate, payment.paymentId);
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

/**
 * A payment's authorization: the customer's funds held and the payment authorized together.
 * Short funds are a decline, recorded as a fact of the payment (GET /payments/:id says why);
 * a payment handled before under another message id answers what it recorded.
 */
export function authorization(
  handler: EventStoreCommandHandler,
  payment: PaymentDetails,
): Decision<AuthorizationOutcome> {
  const at = new Date().toISOString();
  const replayed = () => recordedOutcome(handler, payment);
  return {
    commands: [
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
    outcome: { outcome: 'authorized', paymentId: payment.paymentId },
    replayed,
    refused: async (refusals) => {
      const short = insufficientFunds(refusals);
      if (!short)
        return answer(await recordedOutcome(handler, payment, new CommandsRefusedError(refusals)));
      return {
        commands: [
          onStream(paymentAggregate, payment.paymentId, {
            type: 'DeclinePayment',
            ...payment,
            reason: 'INSUFFICIENT_FUNDS',
            available: short.available,
            at,
          }),
        ],
        outcome: {
          outcome: 'declined',
          paymentId: payment.paymentId,
          reason: 'INSUFFICIENT_FUNDS',
          ...short,
        },
        replayed,
      };
    },
  };
}

/**
 * A payment's capture, void or refund. The account follows the payment: it is changed only
 * when the payment itself changes, in the same unit of work, at the version it was decided on.
 * A repeated refund is a no-op on the payment and so credits nothing; a payment that moved on
 * meanwhile is reloaded and decided again (the command handler's loop). A refusal is an answer.
 */
export function settlement(
  paymentId: string,
  action: SettlePayment['action'],
): Decision<SettlementOutcome> {
  const at = new Date().toISOString();
  const paymentCommand: PaymentCommand = {
    capture: { type: 'CapturePayment', at } as const,
    void: { type: 'VoidPayment', at } as const,
    refund: { type: 'RefundPayment', at } as const,
  }[action];
  return {
    // Done before, or nothing to do: no event, and the payment's version check, inbox mark and
    // reply are written all the same (a redelivery answers the same).
    commands: [
      onStream(paymentAggregate, paymentId, paymentCommand, {
        // What the account does follows what the payment did (a refund of an authorization
        // is a void: its hold is released, nothing is credited).
        follows: (payment, events) => {
          if (payment.status === 'NONE') return [];
          const { customerId, amount } = payment.payment;
          return events.flatMap((event) => {
            const accountCommand: AccountCommand | undefined =
              event.type === 'PaymentCaptured'
                ? { type: 'DebitFunds', paymentId }
                : event.type === 'PaymentVoided'
                  ? { type: 'ReleaseFunds', paymentId }
                  : event.type === 'PaymentRefunded'
                    ? { type: 'CreditFunds', paymentId, amount }
                    : undefined;
            return accountCommand ? [onStream(accountAggregate, customerId, accountCommand)] : [];
          });
        },
      }),
    ],
    outcome: { outcome: 'settled', paymentId },
    refused: answerRefusal<SettlementOutcome>(({ error }) => ({
      outcome: 'refused',
      paymentId,
      code: error.code,
      message: error.message,
    })),
  };
}

@CommandHandler(AuthorizePayment)
export class AuthorizePaymentHandler implements ICommandHandler<AuthorizePayment> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  execute({ payment, context }: AuthorizePayment): Promise<AuthorizationOutcome> {
    return this.handler.carryOut(authorization(this.handler, payment), context);
  }
}

@CommandHandler(SettlePayment)
export class SettlePaymentHandler implements ICommandHandler<SettlePayment> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  execute({ paymentId, action, context }: SettlePayment): Promise<SettlementOutcome> {
    return this.handler.carryOut(settlement(paymentId, action), context);
  }
}

export class RecordAccountHolder extends Command<AccountAccepted> {
  constructor(
    readonly customerId: string,
    readonly name: string,
    readonly email: string,
    readonly request: CommandRequest,
  ) {
    super();
  }
}

@CommandHandler(RecordAccountHolder)
export class RecordAccountHolderHandler implements ICommandHandler<RecordAccountHolder> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({
    customerId,
    name,
    email,
    request,
  }: RecordAccountHolder): Promise<AccountAccepted> {
    // Sealed under the customer's key by the event store: a key vault away is a 503 here.
    const result = await this.handler.handle(
      accountAggregate,
      customerId,
      { type: 'RecordHolder', customerId, name, email, at: new Date().toISOString() },
      request,
    );
    return { customerId, ...accepted(ACCOUNT_STREAM_TYPE, customerId, result.version) };
  }
}

export interface ErasureAccepted extends Accepted {
  readonly customerId: string;
  readonly keysErased: number;
}

export class EraseCustomer extends Command<ErasureAccepted> {
  constructor(
    readonly customerId: string,
    readonly request: CommandRequest,
  ) {
    super();
  }
}

/**
 * The right to erasure (docs/privacy.md): the customer's keys destroyed first, the irreversible
 * act, then recorded (DataSubjectErased, published to every consumer). A failure between the
 * two leaves the keys destroyed and no record yet: the retry, with the same Idempotency-Key,
 * destroys nothing more and records it. A retry after the record answers the first outcome.
 */
@CommandHandler(EraseCustomer)
export class EraseCustomerHandler implements ICommandHandler<EraseCustomer> {
  constructor(
    @Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler,
    @Inject(EVENT_STORE) private readonly store: PostgresEventStore,
    @Inject(PERSONAL_DATA) private readonly vault: PersonalData,
  ) {}

  async execute({ customerId, request }: EraseCustomer): Promise<ErasureAccepted> {
    const keysErased = await this.vault.keys.erase(customerId);
    const result = await this.handler.handle(
      dataSubjectAggregate,
      customerId,
      { type: 'RecordErasure', customerId, keysErased, at: new Date().toISOString() },
      request,
    );
    // A retry answers as the first did: its count is the recorded one.
    const [recorded] = result.duplicate
      ? await this.store.readStream(
          { type: DATA_SUBJECT_STREAM_TYPE, id: customerId },
          { afterVersion: result.version - 1, toVersion: result.version },
        )
      : [];
    return {
      customerId,
      keysErased: recorded ? (recorded.data as { keysErased: number }).keysErased : keysErased,
      ...accepted(DATA_SUBJECT_STREAM_TYPE, customerId, result.version),
    };
  }
}
