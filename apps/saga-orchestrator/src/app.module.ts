import { Module } from '@nestjs/common';
import { INVENTORY_COMMANDS_TOPIC } from '@es/inventory-contracts';
import { ORDERS_COMMANDS_TOPIC } from '@es/order-contracts';
import { PAYMENTS_COMMANDS_TOPIC } from '@es/payment-contracts';
import { SAGAS_EVENTS_TOPIC, sagaEventSchemas } from '@es/saga';
import { SAGA_REPLIES_TOPIC } from '@es/saga-contracts';
import {
  DeadLettersController,
  RepublishController,
  StreamsController,
  EventSourcingModule,
  MessageConsumers,
  PlatformModule,
} from '@es/service-runtime';
import { DeadlineScanner } from './deadlines';
import { SagaMetrics } from './saga.metrics';
import { SagaConsumers } from './saga.consumers';
import { SagasController } from './sagas.controller';
import { SAGAS } from './saga.aggregates';

@Module({
  imports: [
    PlatformModule.forRoot({
      serviceName: 'saga-orchestrator',
      postgres: { database: 'sagas' },
      kafka: true,
    }),
    EventSourcingModule.forRoot({
      schemas: sagaEventSchemas,
      topics: [
        SAGAS_EVENTS_TOPIC,
        ORDERS_COMMANDS_TOPIC,
        INVENTORY_COMMANDS_TOPIC,
        PAYMENTS_COMMANDS_TOPIC,
        SAGA_REPLIES_TOPIC,
      ],
      streams: [...SAGAS.values()].map((s) => s.aggregate),
    }),
  ],
  controllers: [SagasController, DeadLettersController, RepublishController, StreamsController],
  providers: [MessageConsumers, SagaConsumers, DeadlineScanner, SagaMetrics],
})
export class AppModule {}
