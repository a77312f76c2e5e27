import type { AggregateDefinition } from '@es/event-store';
import {
  INVENTORY_EVENTS_TOPIC,
  STOCK_ITEM_STREAM_TYPE,
  STOCK_RETURN_STREAM_TYPE,
  type StockItemEvent,
  type StockReturnEvent,
} from '@es/inventory-contracts';
import {
  stockItemDecider,
  stockReturnDecider,
  type StockItemCommand,
  type StockItemState,
  type StockReturnCommand,
  type StockReturnState,
} from '@es/inventory-domain';

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

/** A cancelled order's stock return: one short stream per order, so it happens once. */
export const stockReturnAggregate: AggregateDefinition<
  StockReturnCommand,
  StockReturnEvent,
  StockReturnState
> = {
  streamType: STOCK_RETURN_STREAM_TYPE,
  decider: stockReturnDecider,
  topic: INVENTORY_EVENTS_TOPIC,
};
