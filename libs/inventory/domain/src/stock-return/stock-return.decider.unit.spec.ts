import { deciderSpec } from '@es/decider';
import type { StockReturnEvent } from '@es/inventory-contracts';
import { stockReturnDecider, type StockReturnCommand } from './stock-return.decider';

const at = '2026-11-23T10:00:00.000Z';
const returnStock = (lines: StockReturnCommand['lines']): StockReturnCommand => ({
  type: 'ReturnOrderStock',
  orderId: 'o-1',
  lines,
  at,
});
const returned: StockReturnEvent = {
  type: 'OrderStockReturned',
  data: { orderId: 'o-1', lines: [{ sku: 'SKU-1', quantity: 3 }], returnedAt: at },
};
const spec = deciderSpec(stockReturnDecider);

describe('stock return decider', () => {
  it('records an order’s return once, its lines for one SKU as one', () => {
    const outcome = spec.given([]).when(
      returnStock([
        { sku: 'SKU-1', quantity: 1 },
        { sku: 'SKU-1', quantity: 2 },
      ]),
    );
    expect(outcome.events).toEqual([returned]);
  });

  it('returns nothing the second time, whatever lines are asked', () => {
    expect(
      spec.given([returned]).when(returnStock([{ sku: 'SKU-1', quantity: 3 }])).events,
    ).toEqual([]);
    expect(
      spec.given([returned]).when(returnStock([{ sku: 'SKU-2', quantity: 9 }])).events,
    ).toEqual([]);
    expect(spec.given([returned]).state).toMatchObject({ status: 'RETURNED', returnedAt: at });
  });

  it('refuses a return of no lines', () => {
    expect(spec.given([]).when(returnStock([])).error?.code).toBe('RETURN_EMPTY');
  });
});
