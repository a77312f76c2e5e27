// REST for accounts and payments (docs/decisions.md, Services). Authorizing, capturing and refunding are the
// saga's, over Kafka, not REST.
import { Body, Controller, Get, Param, Post, Res } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import type { ConsistencyToken } from '@es/event-store';
import { ACCOUNT_STREAM_TYPE, type CustomerAccountDocument } from '@es/payment-contracts';
import { identifier, jsonSchemaOf, positiveInt, z } from '@es/schema';
import {
  ApiCommand,
  ApiConsistentRead,
  CommandContext,
  ConsistentWith,
  NotFound,
  ZodPipe,
  foundWithETag,
  type CommandRequest,
} from '@es/service-runtime';
import { DepositFunds, type AccountAccepted } from './payments.commands';
import { GetAccount, GetPayment, type PaymentView } from './payments.queries';

const depositBody = z.strictObject({ amount: positiveInt });

@ApiTags('payments')
@Controller()
export class PaymentsController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Post('accounts/:customerId/deposit')
  @ApiCommand({ ifMatch: true })
  @ApiBody({ schema: jsonSchemaOf(depositBody), description: 'amount in minor units (cents)' })
  @ApiAcceptedResponse({ description: '{ customerId, version, token }' })
  deposit(
    @Param('customerId', new ZodPipe(identifier, { field: 'customerId' })) customerId: string,
    @Body(new ZodPipe(depositBody)) body: z.output<typeof depositBody>,
    @CommandContext() request: CommandRequest,
  ): Promise<AccountAccepted> {
    return this.commands.execute(new DepositFunds(customerId, body.amount, request));
  }

  @Get('accounts/:customerId')
  @ApiConsistentRead()
  @ApiOkResponse({
    description:
      '{ customerId, balance, reserved, available, recentPayments, updatedAt, version } (the customer-account read model)',
  })
  @ApiNotFoundResponse({ description: 'The customer never deposited' })
  async account(
    @Param('customerId', new ZodPipe(identifier, { field: 'customerId' })) customerId: string,
    @ConsistentWith({ streamType: ACCOUNT_STREAM_TYPE, idParam: 'customerId' })
    token: ConsistencyToken | undefined,
    @Res({ passthrough: true }) response: Response,
  ): Promise<CustomerAccountDocument> {
    return foundWithETag(
      await this.queries.execute(new GetAccount(customerId, token)),
      response,
      'account',
      customerId,
    );
  }

  @Get('payments/:id')
  @ApiOkResponse({ description: 'The payment and its status' })
  @ApiNotFoundResponse()
  async payment(
    @Param('id', new ZodPipe(identifier, { field: 'id' })) id: string,
  ): Promise<PaymentView> {
    const payment = await this.queries.execute(new GetPayment(id));
    if (!payment) throw new NotFound('payment', id);
    return payment;
  }
}
