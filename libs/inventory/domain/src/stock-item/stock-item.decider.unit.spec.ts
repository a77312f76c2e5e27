import { deciderSpec, everyCommandInEveryState, type Expected } from '@es/decider';
import type { StockItemEvent } from '@es/inventory-contracts';
import type { StockItemCommand } from './stock-item.commands';
import { stockItemDecider } from './stock-item.decider';
import { available } from './stock-item.state';

const sku = 'SKU-1';
const restocked = (quantity: number): StockItemEvent => ({
  type: 'StockRestocked',
  data: { sku, quantity },
});
const reserved = (orderId: string, quantity: number): StockItemEvent => ({
  type: 'StockReserved',
  data: { sku, orderId, quantity },
});
const released = (orderId: string, quantity: number): StockItemEvent => ({
  type: 'StockReservationReleased',
  data: { sku, orderId, quantity },
});
const committed = (orderId: string, quantity: number): StockItemEvent => ({
  type: 'StockReservationCommitted',
  data: { sku, orderId, quantity },
});

const returned = (orderId: string, quantity: number): StockItemEvent => ({
  type: 'StockReturned',
  data: { sku, orderId, quantity },
});

const commands = {
  restock: { type: 'Restock', sku, quantity: 5 },
  reserve3: { type: 'ReserveStock', orderId: 'o-1', quantity: 3 },
  reserve20: { type: 'ReserveStock', orderId: 'o-2', quantity: 20 },
  release: { type: 'ReleaseStock', orderId: 'o-1' },
  commit: { type: 'CommitStock', orderId: 'o-1' },
  return2: { type: 'ReturnStock', orderId: 'o-9', quantity: 2 },
} satisfies Record<string, StockItemCommand>;

const histories = {
  unknown: [],
  stocked: [restocked(10)],
  held: [restocked(10), reserved('o-1', 3)],
  exhausted: [restocked(3), reserved('o-1', 3)],
} satisfies Record<string, StockItemEvent[]>;

const table: Record<
  keyof typeof histories,
  Record<keyof typeof commands, Expected<StockItemEvent>>
> = {
  unknown: {
    restock: { events: [restocked(5)] },
    reserve3: { error: 'UNKNOWN_SKU' },
    reserve20: { error: 'UNKNOWN_SKU' },
    release: { events: [] },
    commit: { error: 'RESERVATION_NOT_FOUND' },
    return2: { error: 'UNKNOWN_SKU' },
  },
  stocked: {
    restock: { events: [restocked(5)] },
    reserve3: { events: [reserved('o-1', 3)] },
    reserve20: { error: 'INSUFFICIENT_STOCK' },
    release: { events: [] },
    commit: { error: 'RESERVATION_NOT_FOUND' },
    return2: { events: [returned('o-9', 2)] },
  },
  held: {
    restock: { events: [restocked(5)] },
    reserve3: { events: [] }, // the same reservation again
    reserve20: { error: 'INSUFFICIENT_STOCK' },
    release: { events: [released('o-1', 3)] },
    commit: { events: [committed('o-1', 3)] },
    return2: { events: [returned('o-9', 2)] },
  },
  exhausted: {
    restock: { events: [restocked(5)] },
    reserve3: { events: [] },
    reserve20: { error: 'INSUFFICIENT_STOCK' },
    release: { events: [released('o-1', 3)] },
    commit: { events: [committed('o-1', 3)] },
    return2: { events: [returned('o-9', 2)] },
  },
};

const spec = deciderSpec(stockItemDecider);

describe('stock item decider: every command in every state', () => {
  it.each(everyCommandInEveryState(stockItemDecider, histories, commands, table))(
    'given %s, when %s',
    (_state, _command, actual, expected) => {
      expect(actual).toEqual(expected);
    },
  );
});

describe('stock item decider: rules and state', () => {
  it('names what was requested and what is available when short', () => {
    const outcome = spec.given(histories.held).when(commands.reserve20);
    expect(outcome.error?.details).toEqual({ requested: 20, available: 7 });
  });

  it('refuses a second reservation of another size for the same order', () => {
    const outcome = spec
      .given(histories.held)
      .when({ type: 'ReserveStock', orderId: 'o-1', quantity: 4 });
    expect(outcome.error?.code).toBe('RESERVATION_CONFLICT');
    expect(outcome.error?.details).toEqual({ orderId: 'o-1', held: 3, requested: 4 });
  });

  it('keeps on hand, reserved and available consistent through a reservation life', () => {
    const history = [
      restocked(10),
      reserved('o-1', 3),
      reserved('o-2', 4),
      committed('o-1', 3),
      released('o-2', 4),
      restocked(2),
      returned('o-1', 3),
    ];
    const states = history.map((_, i) => spec.given(history.slice(0, i + 1)).state);
    expect(
      states.map((s) =>
        s.status === 'STOCKED' ? [s.onHand, s.reserved, available(s)] : 'unknown',
      ),
    ).toEqual([
      [10, 0, 10],
      [10, 3, 7],
      [10, 7, 3],
      [7, 4, 3],
      [7, 0, 7],
      [9, 0, 9],
      // A cancelled order's committed units back: on hand = restocked - committed + returned.
      [12, 0, 12],
    ]);
    expect(states.at(-1)).toMatchObject({ reservations: {} });
  });

  it('never lets available go negative, whatever order reservations arrive in', () => {
    let history: StockItemEvent[] = [restocked(50)];
    let granted = 0;
    for (let i = 0; i < 200; i++) {
      const outcome = spec
        .given(history)
        .when({ type: 'ReserveStock', orderId: `o-${i}`, quantity: 1 + (i % 3) });
      if (outcome.events) {
        history = [...history, ...outcome.events];
        granted += 1 + (i % 3);
      }
      expect(available(spec.given(history).state)).toBeGreaterThanOrEqual(0);
    }
    expect(granted).toBeLessThanOrEqual(50);
    expect(available(spec.given(history).state)).toBe(50 - granted);
  });

  it('refuses a SKU it has never stocked as unknown, not as short stock', () => {
    const outcome = spec.given([]).when(commands.reserve3);
    expect(outcome.error?.code).toBe('UNKNOWN_SKU');
    expect(outcome.error?.details).toEqual({ requested: 3 });
  });

  it('refuses a restock that would overflow safe integers', () => {
    const outcome = spec
      .given([restocked(Number.MAX_SAFE_INTEGER - 1)])
      .when({ type: 'Restock', sku, quantity: 5 });
    expect(outcome.error?.code).toBe('STOCK_TOO_LARGE');
  });
});
