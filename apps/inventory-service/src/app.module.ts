import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import {
  INVENTORY_COMMANDS_TOPIC,
  INVENTORY_EVENTS_TOPIC,
  stockItemEventSchemas,
  stockReturnEventSchemas,
} from '@es/inventory-contracts';
import { SAGA_REPLIES_TOPIC } from '@es/saga-contracts';
import {
  DeadLettersController,
  RepublishController,
  StreamsController,
  EventSourcingModule,
  MessageConsumers,
  PlatformModule,
} from '@es/service-runtime';
import {
  CommitStockHandler,
  ReleaseStockHandler,
  ReserveStockHandler,
  RestockHandler,
} from './inventory.commands';
import { InventoryController } from './inventory.controller';
import { participantProvider } from '@es/saga-participant';
import { inventoryParticipant } from './inventory.participant';
import { GetStockItemHandler } from './inventory.queries';
import { stockItemAggregate, stockReturnAggregate } from './stock-item.aggregate';

@Module({
  imports: [
    PlatformModule.forRoot({
      serviceName: 'inventory-service',
      postgres: { database: 'inventory' },
      kafka: true,
      mongo: true,
    }),
    EventSourcingModule.forRoot({
      schemas: [...stockItemEventSchemas, ...stockReturnEventSchemas],
      topics: [INVENTORY_EVENTS_TOPIC, INVENTORY_COMMANDS_TOPIC, SAGA_REPLIES_TOPIC],
      streams: [stockItemAggregate, stockReturnAggregate],
    }),
    CqrsModule.forRoot(),
  ],
  controllers: [InventoryController, DeadLettersController, RepublishController, StreamsController],
  providers: [
    RestockHandler,
    ReserveStockHandler,
    ReleaseStockHandler,
    CommitStockHandler,
    GetStockItemHandler,
    MessageConsumers,
    participantProvider(inventoryParticipant),
  ],
})
export class AppModule {}
