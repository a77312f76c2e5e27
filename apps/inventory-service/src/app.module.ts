import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { INVENTORY_EVENTS_TOPIC, stockItemEventSchemas } from '@es/inventory-contracts';
import { EventSourcingModule, PlatformModule } from '@es/service-runtime';
import {
  CommitStockHandler,
  ReleaseStockHandler,
  ReserveStockHandler,
  RestockHandler,
} from './inventory.commands';
import { InventoryController } from './inventory.controller';
import { GetStockItemHandler } from './inventory.queries';

@Module({
  imports: [
    PlatformModule.forRoot({
      serviceName: 'inventory-service',
      postgres: { database: 'inventory' },
      kafka: true,
    }),
    EventSourcingModule.forRoot({
      schemas: stockItemEventSchemas,
      topics: [INVENTORY_EVENTS_TOPIC],
    }),
    CqrsModule.forRoot(),
  ],
  controllers: [InventoryController],
  providers: [
    RestockHandler,
    ReserveStockHandler,
    ReleaseStockHandler,
    CommitStockHandler,
    GetStockItemHandler,
  ],
})
export class AppModule {}
