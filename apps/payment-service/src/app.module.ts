import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import {
  PAYMENT_STREAM_TYPE,
  PAYMENTS_COMMANDS_TOPIC,
  PAYMENTS_EVENTS_TOPIC,
  accountEventSchemas,
  dataSubjectEventSchemas,
  paymentEventSchemas,
} from '@es/payment-contracts';
import { SAGA_REPLIES_TOPIC } from '@es/saga-contracts';
import {
  DeadLettersController,
  RepublishController,
  StreamsController,
  EventSourcingModule,
  MessageConsumers,
  PlatformModule,
  streamOwners,
} from '@es/service-runtime';
import {
  AuthorizePaymentHandler,
  DepositFundsHandler,
  EraseCustomerHandler,
  RecordAccountHolderHandler,
  SettlePaymentHandler,
} from './payments.commands';
import { PaymentsController } from './payments.controller';
import { participantProvider } from '@es/saga-participant';
import { paymentsParticipant } from './payments.participant';
import { GetAccountHandler, GetPaymentHandler } from './payments.queries';
import { accountAggregate, dataSubjectAggregate, paymentAggregate } from './payment.aggregates';

@Module({
  imports: [
    PlatformModule.forRoot({
      serviceName: 'payment-service',
      postgres: { database: 'payments' },
      kafka: true,
      mongo: true,
      personalData: true,
    }),
    EventSourcingModule.forRoot({
      schemas: [...accountEventSchemas, ...paymentEventSchemas, ...dataSubjectEventSchemas],
      topics: [PAYMENTS_EVENTS_TOPIC, PAYMENTS_COMMANDS_TOPIC, SAGA_REPLIES_TOPIC],
      streams: [accountAggregate, paymentAggregate, dataSubjectAggregate],
    }),
    CqrsModule.forRoot(),
  ],
  controllers: [PaymentsController, DeadLettersController, RepublishController, StreamsController],
  providers: [
    DepositFundsHandler,
    RecordAccountHolderHandler,
    EraseCustomerHandler,
    AuthorizePaymentHandler,
    SettlePaymentHandler,
    GetAccountHandler,
    GetPaymentHandler,
    MessageConsumers,
    participantProvider(paymentsParticipant),
    // A customer's payment is theirs: GET /payments/:id.
    streamOwners({ payment: { streamType: PAYMENT_STREAM_TYPE, field: 'customerId' } }),
  ],
})
export class AppModule {}
