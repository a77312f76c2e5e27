import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { ORDERS_EVENTS_TOPIC, orderEventSchemas } from '@es/order-contracts';
import { EventSourcingModule, PlatformModule } from '@es/service-runtime';
import { CancelOrderHandler, PlaceOrderHandler } from './orders.commands';
import { OrdersController } from './orders.controller';
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
    }),
    EventSourcingModule.forRoot({ schemas: orderEventSchemas, topics: [ORDERS_EVENTS_TOPIC] }),
    CqrsModule.forRoot(),
  ],
  controllers: [OrdersController],
  providers: [
    PlaceOrderHandler,
    CancelOrderHandler,
    GetOrderHandler,
    GetOrderAtHandler,
    GetOrderEventsHandler,
    ListCustomerOrdersHandler,
  ],
})
export class AppModule {}
