import type { AggregateDefinition } from '@es/event-store';
import {
  INVENTORY_EVENTS_TOPIC,
  STOCK_ITEM_STREAM_TYPE,
  type StockItemEvent,
} from '@es/inventory-contracts';
import { stockItemDecider, type StockItemCommand, type StockItemState } from '@es/inventory-domain';

export const stockItemAggregate: AggregateDefinition<
  StockItemCommand,
  StockItemEvent,
  StockItemState
> = {
  streamType: STOCK_ITEM_STREAM_TYPE,
  decider: stockItemDecider,
  topic: INVENTORY_EVENTS_TOPIC,
  // A busy SKU collects many events; its state is small (open reservations only).
  snapshot: { every: 50, schemaVersion: 1 },
};
