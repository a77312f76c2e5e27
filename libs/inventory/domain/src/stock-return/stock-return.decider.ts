// A cancelled order's stock return, one stream per order: the first ReturnOrderStock records the
// lines that come back (and the service returns each to its stock item in the same append); any
// later one, a re-sent or redelivered command, finds the return recorded and changes nothing.
// A stock item keeps only open reservations, so it cannot tell by itself whether an order's
// units came back already; this stream can, at the cost of one small stream per cancellation.
import { DomainError, type Decider } from '@es/decider';
import type { StockReturnEvent } from '@es/inventory-contracts';

export interface ReturnLine {
  readonly sku: string;
  readonly quantity: number;
}

export type StockReturnCommand = {
  readonly type: 'ReturnOrderStock';
  readonly orderId: string;
  readonly lines: readonly ReturnLine[];
  readonly at: string;
};

export type StockReturnState =
  | { readonly status: 'NONE' }
  | {
      readonly status: 'RETURNED';
      readonly orderId: string;
      readonly lines: readonly ReturnLine[];
      readonly returnedAt: string;
    };

/** Lines for the same SKU are one line of their total (one reservation, one return). */
export function bySku(lines: readonly ReturnLine[]): ReturnLine[] {
  const totals = new Map<string, number>();
  for (const { sku, quantity } of lines) totals.set(sku, (totals.get(sku) ?? 0) + quantity);
  return [...totals].map(([sku, quantity]) => ({ sku, quantity }));
}

function decide(command: StockReturnCommand, state: StockReturnState): readonly StockReturnEvent[] {
  if (state.status === 'RETURNED') return []; // returned once; never twice
  if (command.lines.length === 0)
    throw new DomainError('RETURN_EMPTY', 'a stock return needs at least one line');
  return [
    {
      type: 'OrderStockReturned',
      data: { orderId: command.orderId, lines: bySku(command.lines), returnedAt: command.at },
    },
  ];
}

function evolve(state: StockReturnState, event: StockReturnEvent): StockReturnState {
  if (state.status === 'RETURNED') return state;
  const { orderId, lines, returnedAt } = event.data;
  return { status: 'RETURNED', orderId, lines, returnedAt };
}

export const stockReturnDecider: Decider<StockReturnCommand, StockReturnEvent, StockReturnState> = {
  initialState: () => ({ status: 'NONE' }),
  decide,
  evolve,
};
