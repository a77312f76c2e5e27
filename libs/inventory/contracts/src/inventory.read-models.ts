// Inventory's read model as the projection service writes it and the inventory service reads it.

/** Stock per SKU: on hand, reserved by open orders, and what is left to sell. */
export const STOCK_AVAILABILITY_READ_MODEL = 'stock-availability';
export interface StockAvailabilityDocument {
  readonly sku: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly updatedAt: string;
  /** The stock item stream's version this document reflects. */
  readonly version: number;
}
