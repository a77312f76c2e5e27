// Inventory's read model as the projection service writes it and the inventory service reads it.
import { identifier, isoInstant, z } from '@es/schema';

const count = z.number().int().nonnegative();

/** Stock per SKU: on hand, reserved by open orders, and what is left to sell. */
export const STOCK_AVAILABILITY_READ_MODEL = 'stock-availability';
export const stockAvailabilityDocumentSchema = z.strictObject({
  sku: identifier,
  onHand: count,
  reserved: count,
  available: z.number().int(),
  updatedAt: isoInstant,
  /** The stock item stream's version this document reflects. */
  version: z.number().int().positive(),
});
export type StockAvailabilityDocument = Readonly<z.output<typeof stockAvailabilityDocumentSchema>>;
