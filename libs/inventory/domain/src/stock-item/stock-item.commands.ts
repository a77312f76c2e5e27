export type StockItemCommand =
  | { readonly type: 'Restock'; readonly sku: string; readonly quantity: number }
  /** Reserve units of this SKU for an order (one line of an order's all-or-none reservation). */
  | { readonly type: 'ReserveStock'; readonly orderId: string; readonly quantity: number }
  /** Give an order's reserved units back: safe to repeat (a compensation). */
  | { readonly type: 'ReleaseStock'; readonly orderId: string }
  /** The order is confirmed: its reserved units leave on-hand stock. */
  | { readonly type: 'CommitStock'; readonly orderId: string }
  /** A cancelled order's committed units come back on hand (its stock return decides it once). */
  | { readonly type: 'ReturnStock'; readonly orderId: string; readonly quantity: number };
