// A stock item's events as published on `inventory.events` (keyed by SKU).
import { identifier, isoInstant, positiveInt, versioned, z, type EventOf } from '@es/schema';

export const STOCK_ITEM_STREAM_TYPE = 'stock-item';
/** One stream per cancelled order whose stock came back: it makes a return happen once. */
export const STOCK_RETURN_STREAM_TYPE = 'stock-return';
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

/** A cancelled order's committed units came back: on hand goes up (restocked - committed + returned). */
export const StockReturned = versioned('StockReturned', 1, reservation);

export const stockItemEventSchemas = [
  StockRestocked,
  StockReserved,
  StockReservationReleased,
  StockReservationCommitted,
  StockReturned,
] as const;

export type StockItemEvent = EventOf<(typeof stockItemEventSchemas)[number]>;

/** The order's stock return, on its own stream (keyed by order id): the lines that came back. */
export const OrderStockReturned = versioned(
  'OrderStockReturned',
  1,
  z.strictObject({
    orderId: identifier,
    lines: z.array(z.strictObject({ sku: identifier, quantity: positiveInt })).min(1),
    returnedAt: isoInstant,
  }),
);
export const stockReturnEventSchemas = [OrderStockReturned] as const;
export type StockReturnEvent = EventOf<(typeof stockReturnEventSchemas)[number]>;
