// A stock item's events as published on `inventory.events` (keyed by SKU).
import { identifier, positiveInt, versioned, z, type EventOf } from '@es/schema';

export const STOCK_ITEM_STREAM_TYPE = 'stock-item';
export const INVENTORY_EVENTS_TOPIC = 'inventory.events';

const reservation = z.strictObject({ sku: identifier, orderId: identifier, quantity: positiveInt });

export const StockRestocked = versioned(
  'StockRestocked',
  1,
  z.strictObject({ sku: identifier, quantity: positiveInt }),
);
export const StockReserved = versioned('StockReserved', 1, reservation);
export const StockReservationReleased = versioned('StockReservationReleased', 1, reservation);
/** The reserved units left the warehouse: on hand and reserved both go down. */
export const StockReservationCommitted = versioned('StockReservationCommitted', 1, reservation);

export const stockItemEventSchemas = [
  StockRestocked,
  StockReserved,
  StockReservationReleased,
  StockReservationCommitted,
] as const;

export type StockItemEvent = EventOf<(typeof stockItemEventSchemas)[number]>;
