// What the saga asks of inventory on `inventory.commands` and the typed replies on
// `sagas.replies`. Keyed by order id (the saga's id).
import { messageSchema, replySchema } from '@es/saga-contracts';
import { identifier, positiveInt, z } from '@es/schema';

export const INVENTORY_COMMANDS_TOPIC = 'inventory.commands';

export const stockLineSchema = z.strictObject({ sku: identifier, quantity: positiveInt });
const skus = z.array(identifier).min(1);

/** Reserve every line or none. */
export const ReserveStockCommand = messageSchema(
  'ReserveStock',
  1,
  z.strictObject({ orderId: identifier, lines: z.array(stockLineSchema).min(1) }),
);
export const ReleaseStockCommand = messageSchema(
  'ReleaseStock',
  1,
  z.strictObject({ orderId: identifier, skus }),
);
export const CommitStockCommand = messageSchema(
  'CommitStock',
  1,
  z.strictObject({ orderId: identifier, skus }),
);
/** A cancelled order's committed units back on hand: once per order, however often asked. */
export const ReturnStockCommand = messageSchema(
  'ReturnStock',
  1,
  z.strictObject({ orderId: identifier, lines: z.array(stockLineSchema).min(1) }),
);
export const inventorySagaCommandSchema = z.discriminatedUnion('type', [
  ReserveStockCommand,
  ReleaseStockCommand,
  CommitStockCommand,
  ReturnStockCommand,
]);
export type InventorySagaCommand = z.output<typeof inventorySagaCommandSchema>;

const orderRef = z.strictObject({ orderId: identifier });
/**
 * A failure's details name each short SKU, `{ shortages: [{ sku, requested, available }] }`, or
 * each SKU the inventory has never stocked, `{ skus }` (UNKNOWN_SKU, which comes first).
 */
export const ReserveStockReply = replySchema('ReserveStock', 1, orderRef, [
  'UNKNOWN_SKU',
  'INSUFFICIENT_STOCK',
]);
export const ReleaseStockReply = replySchema('ReleaseStock', 1, orderRef, []);
export const CommitStockReply = replySchema('CommitStock', 1, orderRef, ['RESERVATION_NOT_FOUND']);
/** UNKNOWN_SKU: a line names a SKU never stocked, so none of its units can have been committed. */
export const ReturnStockReply = replySchema('ReturnStock', 1, orderRef, ['UNKNOWN_SKU']);
