export type StockItemState =
  | { readonly status: 'UNKNOWN' }
  | {
      readonly status: 'STOCKED';
      readonly sku: string;
      readonly onHand: number;
      /** Units held for orders, by order id; their sum is `reserved`. */
      readonly reservations: Readonly<Record<string, number>>;
      readonly reserved: number;
    };

/** On hand less reserved: what a new reservation may take. Never negative. */
export function available(state: StockItemState): number {
  return state.status === 'STOCKED' ? state.onHand - state.reserved : 0;
}
