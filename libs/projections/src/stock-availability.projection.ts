// Stock per SKU: on hand (restocked - committed + returned), reserved by open orders, available
// to sell.
import {
  INVENTORY_EVENTS_TOPIC,
  STOCK_AVAILABILITY_READ_MODEL,
  stockItemEventSchemas,
  type StockAvailabilityDocument,
} from '@es/inventory-contracts';
import { defineProjection } from '@es/read-models';

export const stockAvailability = defineProjection({
  name: STOCK_AVAILABILITY_READ_MODEL,
  description: 'Stock per SKU: on hand, reserved, available',
  topics: [INVENTORY_EVENTS_TOPIC],
  schemas: stockItemEventSchemas,
  documentId: (event) => event.data.sku,
  evolve(doc: StockAvailabilityDocument | null, event): StockAvailabilityDocument | null {
    const { sku, quantity } = event.data;
    const current = doc ?? { sku, onHand: 0, reserved: 0 };
    let { onHand, reserved } = current;
    switch (event.type) {
      case 'StockRestocked':
        onHand += quantity;
        break;
      case 'StockReserved':
        reserved += quantity;
        break;
      case 'StockReservationReleased':
        reserved -= quantity;
        break;
      case 'StockReservationCommitted':
        onHand -= quantity;
        reserved -= quantity;
        break;
      case 'StockReturned':
        onHand += quantity;
        break;
    }
    return {
      sku,
      onHand,
      reserved,
      available: onHand - reserved,
      updatedAt: event.recordedAt,
      version: event.streamVersion,
    };
  },
});
