import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import {
  ORDER_STREAM_TYPE,
  ORDERS_COMMANDS_TOPIC,
  ORDERS_EVENTS_TOPIC,
  orderEventSchemas,
  orderUpcasters,
} from '@es/order-contracts';
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
import { CancelOrderHandler, PlaceOrderHandler } from './orders.commands';
import { participantProvider } from '@es/saga-participant';
import { ordersParticipant } from './orders.participant';
import { OrdersController } from './orders.controller';
import { VerdictSweep } from './verdict-sweep';
import { orderAggregate } from './order.aggregate';
import {
  GetOrderAtHandler,
  GetOrderEventsHandler,
  GetOrderHandler,
  ListCustomerOrdersHandler,
} from './orders.queries';

@Module({
  imports: [
    PlatformModule.forRoot({
      serviceName: 'order-service',
      postgres: { database: 'orders' },
      kafka: true,
      mongo: true,
      personalData: true,
    }),
    EventSourcingModule.forRoot({
      schemas: orderEventSchemas,
      upcasters: orderUpcasters,
      topics: [ORDERS_EVENTS_TOPIC, ORDERS_COMMANDS_TOPIC, SAGA_REPLIES_TOPIC],
      streams: [orderAggregate],
    }),
    CqrsModule.forRoot(),
  ],
  controllers: [OrdersController, DeadLettersController, RepublishController, StreamsController],
  providers: [
    PlaceOrderHandler,
    CancelOrderHandler,
    GetOrderHandler,
    GetOrderAtHandler,
    GetOrderEventsHandler,
    ListCustomerOrdersHandler,
    MessageConsumers,
    participantProvider(ordersParticipant),
    VerdictSweep,
    // A customer's order is theirs: GET /orders/:id, its state, and its cancellation.
    streamOwners({ order: { streamType: ORDER_STREAM_TYPE, field: 'customerId' } }),
  ],
})
export class AppModule {}
