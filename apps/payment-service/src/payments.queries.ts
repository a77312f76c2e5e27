// Payments' queries: a customer's account from the customer-account read model the projection
// service builds (waiting for a consistency token when given one). A payment is read from its
// stream in the event store: no read model serves it alone (the order summary shows it per order).
import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { CommandHandler as EventStoreCommandHandler, ConsistencyToken } from '@es/event-store';
import {
  CUSTOMER_ACCOUNT_READ_MODEL,
  type CustomerAccountAnswer,
  type CustomerAccountDocument,
  type paymentSchema,
} from '@es/payment-contracts';
import type { z } from '@es/schema';
import type { ReadModels } from '@es/read-models';
import {
  COMMAND_HANDLER,
  PERSONAL_DATA,
  READ_MODELS,
  type PersonalData,
} from '@es/service-runtime';
import { paymentAggregate } from './payment.aggregates';

/** Its schema is the contract's (`paymentSchema`, GET /payments/{id}). */
export type PaymentView = Readonly<z.output<typeof paymentSchema>>;

export class GetAccount extends Query<CustomerAccountAnswer | undefined> {
  constructor(
    readonly customerId: string,
    readonly consistentWith?: ConsistencyToken,
  ) {
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
  constructor(
    @Inject(READ_MODELS) private readonly readModels: ReadModels,
    @Inject(PERSONAL_DATA) private readonly vault: PersonalData,
  ) {}

  /** The holder is stored sealed (docs/privacy.md): opened for the answer, or erased. */
  async execute({
    customerId,
    consistentWith,
  }: GetAccount): Promise<CustomerAccountAnswer | undefined> {
    const doc = await this.readModels.get<CustomerAccountDocument>(
      CUSTOMER_ACCOUNT_READ_MODEL,
      customerId,
      { ...(consistentWith ? { consistentWith } : {}) },
    );
    return doc && (this.vault.shredder.open(doc) as Promise<CustomerAccountAnswer>);
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
