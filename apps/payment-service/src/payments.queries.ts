// Payments' queries, answered from the event store until the read models exist.
import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { CommandHandler as EventStoreCommandHandler } from '@es/event-store';
import { availableFunds } from '@es/payment-domain';
import { COMMAND_HANDLER } from '@es/service-runtime';
import { accountAggregate, paymentAggregate } from './payment.aggregates';

export interface AccountView {
  readonly customerId: string;
  readonly balance: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
}

export interface PaymentView {
  readonly paymentId: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: number;
  readonly status: 'AUTHORIZED' | 'DECLINED' | 'CAPTURED' | 'VOIDED' | 'REFUNDED';
  readonly declineReason?: string;
  readonly version: number;
}

export class GetAccount extends Query<AccountView | undefined> {
  constructor(readonly customerId: string) {
    super();
  }
}

export class GetPayment extends Query<PaymentView | undefined> {
  constructor(readonly paymentId: string) {
    super();
  }
}

@QueryHandler(GetAccount)
export class GetAccountHandler implements IQueryHandler<GetAccount> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ customerId }: GetAccount): Promise<AccountView | undefined> {
    const { state, version } = await this.handler.load(accountAggregate, customerId);
    if (state.status !== 'OPEN') return undefined;
    return {
      customerId,
      balance: state.balance,
      reserved: state.reserved,
      available: availableFunds(state),
      version,
    };
  }
}

@QueryHandler(GetPayment)
export class GetPaymentHandler implements IQueryHandler<GetPayment> {
  constructor(@Inject(COMMAND_HANDLER) private readonly handler: EventStoreCommandHandler) {}

  async execute({ paymentId }: GetPayment): Promise<PaymentView | undefined> {
    const { state, version } = await this.handler.load(paymentAggregate, paymentId);
    if (state.status === 'NONE') return undefined;
    return {
      ...state.payment,
      status: state.status,
      ...(state.status === 'DECLINED' ? { declineReason: state.reason } : {}),
      version,
    };
  }
}
