import { deciderSpec, everyCommandInEveryState, type Expected } from '@es/decider';
import type { AccountEvent } from '@es/payment-contracts';
import { accountDecider, availableFunds, type AccountCommand } from './account.decider';

const customerId = 'c-1';
const deposited = (amount: number): AccountEvent => ({
  type: 'FundsDeposited',
  data: { customerId, amount },
});
const at = '2026-12-05T10:00:00.000Z';
const holder: AccountEvent = {
  type: 'AccountHolderRecorded',
  data: { customerId, name: 'Grace Hopper', email: 'grace@example.invalid', recordedAt: at },
};
const hold = (
  type: Exclude<AccountEvent['type'], 'FundsDeposited' | 'AccountHolderRecorded'>,
  amount = 300,
) => ({ type, data: { customerId, paymentId: 'p-1', amount } }) as AccountEvent;

const commands = {
  deposit: { type: 'DepositFunds', customerId, amount: 500 },
  reserve: { type: 'ReserveFunds', paymentId: 'p-1', amount: 300 },
  release: { type: 'ReleaseFunds', paymentId: 'p-1' },
  debit: { type: 'DebitFunds', paymentId: 'p-1' },
  credit: { type: 'CreditFunds', paymentId: 'p-1', amount: 300 },
  name: {
    type: 'RecordHolder',
    customerId,
    name: 'Grace Hopper',
    email: 'grace@example.invalid',
    at,
  },
} satisfies Record<string, AccountCommand>;

const histories = {
  none: [],
  funded: [deposited(1_000)],
  held: [deposited(1_000), hold('FundsReserved')],
  short: [deposited(200)],
  named: [holder],
} satisfies Record<string, AccountEvent[]>;

const table: Record<
  keyof typeof histories,
  Record<keyof typeof commands, Expected<AccountEvent>>
> = {
  none: {
    deposit: { events: [deposited(500)] },
    reserve: { error: 'INSUFFICIENT_FUNDS' },
    release: { error: 'ACCOUNT_NOT_FOUND' },
    debit: { error: 'ACCOUNT_NOT_FOUND' },
    credit: { error: 'ACCOUNT_NOT_FOUND' },
    name: { events: [holder] },
  },
  funded: {
    deposit: { events: [deposited(500)] },
    reserve: { events: [hold('FundsReserved')] },
    release: { events: [] },
    debit: { events: [] },
    credit: { events: [hold('FundsCredited')] },
    name: { events: [holder] },
  },
  held: {
    deposit: { events: [deposited(500)] },
    reserve: { events: [] }, // the same hold again
    release: { events: [hold('FundsReleased')] },
    debit: { events: [hold('FundsDebited')] },
    credit: { events: [hold('FundsCredited')] },
    name: { events: [holder] },
  },
  short: {
    deposit: { events: [deposited(500)] },
    reserve: { error: 'INSUFFICIENT_FUNDS' },
    release: { events: [] },
    debit: { events: [] },
    credit: { events: [hold('FundsCredited')] },
    name: { events: [holder] },
  },
  // Named before any deposit: open, with nothing in it.
  named: {
    deposit: { events: [deposited(500)] },
    reserve: { error: 'INSUFFICIENT_FUNDS' },
    release: { events: [] },
    debit: { events: [] },
    credit: { events: [hold('FundsCredited')] },
    name: { events: [holder] },
  },
};

const spec = deciderSpec(accountDecider);

describe('account decider: every command in every state', () => {
  it.each(everyCommandInEveryState(accountDecider, histories, commands, table))(
    'given %s, when %s',
    (_state, _command, actual, expected) => {
      expect(actual).toEqual(expected);
    },
  );
});

describe('account decider: rules and state', () => {
  it('a decline names the amount and what was available', () => {
    expect(spec.given(histories.short).when(commands.reserve).error?.details).toEqual({
      amount: 300,
      available: 200,
    });
  });

  it('refuses a second hold of another amount for the same payment', () => {
    const outcome = spec
      .given(histories.held)
      .when({ type: 'ReserveFunds', paymentId: 'p-1', amount: 301 });
    expect(outcome.error?.code).toBe('HOLD_CONFLICT');
  });

  it('tracks balance, reserved and available through hold, capture, refund and void', () => {
    const history: AccountEvent[] = [
      deposited(1_000),
      hold('FundsReserved'),
      hold('FundsDebited'),
      hold('FundsCredited'),
      { type: 'FundsReserved', data: { customerId, paymentId: 'p-2', amount: 100 } },
      { type: 'FundsReleased', data: { customerId, paymentId: 'p-2', amount: 100 } },
    ];
    const figures = history.map((_, i) => {
      const s = spec.given(history.slice(0, i + 1)).state;
      return s.status === 'OPEN' ? [s.balance, s.reserved, availableFunds(s)] : [];
    });
    expect(figures).toEqual([
      [1_000, 0, 1_000],
      [1_000, 300, 700],
      [700, 0, 700],
      [1_000, 0, 1_000],
      [1_000, 100, 900],
      [1_000, 0, 1_000],
    ]);
  });

  it('keeps no holder in the state: an account named is open and empty, and stays as it was', () => {
    expect(spec.given([holder]).state).toEqual({
      status: 'OPEN',
      customerId,
      balance: 0,
      holds: {},
      reserved: 0,
    });
    expect(spec.given([deposited(700), holder]).state).toEqual(spec.given([deposited(700)]).state);
  });

  it('holds nothing for a zero amount, and refuses a balance beyond safe integers', () => {
    expect(
      spec.given(histories.funded).when({ type: 'ReserveFunds', paymentId: 'p-0', amount: 0 })
        .events,
    ).toEqual([]);
    expect(
      spec
        .given([deposited(Number.MAX_SAFE_INTEGER)])
        .when({ type: 'DepositFunds', customerId, amount: 1 }).error?.code,
    ).toBe('BALANCE_TOO_LARGE');
  });
});
