// REST for accounts and payments (docs/api.md): the operations of @es/payment-contracts'
// payment.http.ts. Authorizing, capturing and refunding are the saga's, over Kafka, not REST.
import { Controller, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import type { Response } from 'express';
import type { ConsistencyToken } from '@es/event-store';
import type { BodyOf, ParamsOf } from '@es/http-api';
import {
  ACCOUNT_STREAM_TYPE,
  depositFunds,
  eraseCustomer,
  getAccount,
  getPayment,
  recordAccountHolder,
  type CustomerAccountAnswer,
} from '@es/payment-contracts';
import {
  CommandContext,
  ConsistentWith,
  Input,
  NotFound,
  Route,
  foundWithETag,
  type CommandRequest,
} from '@es/service-runtime';
import {
  DepositFunds,
  EraseCustomer,
  RecordAccountHolder,
  type AccountAccepted,
  type ErasureAccepted,
} from './payments.commands';
import { GetAccount, GetPayment, type PaymentView } from './payments.queries';

@Controller()
export class PaymentsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Route(depositFunds)
  deposit(
    @Input('params') { customerId }: ParamsOf<typeof depositFunds>,
    @Input('body') body: BodyOf<typeof depositFunds>,
    @CommandContext() request: CommandRequest,
  ): Promise<AccountAccepted> {
    return this.commands.execute(new DepositFunds(customerId, body.amount, request));
  }

  @Route(recordAccountHolder)
  holder(
    @Input('params') { customerId }: ParamsOf<typeof recordAccountHolder>,
    @Input('body') { name, email }: BodyOf<typeof recordAccountHolder>,
    @CommandContext() request: CommandRequest,
  ): Promise<AccountAccepted> {
    return this.commands.execute(new RecordAccountHolder(customerId, name, email, request));
  }

  @Route(eraseCustomer)
  erase(
    @Input('params') { customerId }: ParamsOf<typeof eraseCustomer>,
    @CommandContext() request: CommandRequest,
  ): Promise<ErasureAccepted> {
    return this.commands.execute(new EraseCustomer(customerId, request));
  }

  @Route(getAccount)
  async account(
    @Input('params') { customerId }: ParamsOf<typeof getAccount>,
    @ConsistentWith({ streamType: ACCOUNT_STREAM_TYPE, idParam: 'customerId' })
    token: ConsistencyToken | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CustomerAccountAnswer> {
    return foundWithETag(
      await this.queries.execute(new GetAccount(customerId, token)),
      response,
      'account',
      customerId,
    );
  }

  @Route(getPayment)
  async payment(@Input('params') { id }: ParamsOf<typeof getPayment>): Promise<PaymentView> {
    const payment = await this.queries.execute(new GetPayment(id));
    if (!payment) throw new NotFound('payment', id);
    return payment;
  }
}
