// A customer account: a balance funded by deposits, and holds for authorized payments.
// Available (balance less holds) never goes below zero. Whether a payment may be authorized,
// captured or refunded is the payment's business (payment.decider.ts); the service decides
// both aggregates and appends them in one transaction.
import { DomainError, assertNever, withoutKey, type Decider } from '@es/decider';
import type { AccountEvent } from '@es/payment-contracts';

export type AccountCommand =
  | { readonly type: 'DepositFunds'; readonly customerId: string; readonly amount: number }
  /** Who holds it: personal data, sealed by the event store; not kept in the state. */
  | {
      readonly type: 'RecordHolder';
      readonly customerId: string;
      readonly name: string;
      readonly email: string;
      readonly at: string;
    }
  | { readonly type: 'ReserveFunds'; readonly paymentId: string; readonly amount: number }
  /** Give a hold back (void); nothing held is nothing to do. */
  | { readonly type: 'ReleaseFunds'; readonly paymentId: string }
  /** Take a hold from the balance (capture); nothing held is nothing to do. */
  | { readonly type: 'DebitFunds'; readonly paymentId: string }
  | { readonly type: 'CreditFunds'; readonly paymentId: string; readonly amount: number };

export type AccountState =
  | { readonly status: 'NONE' }
  | {
      readonly status: 'OPEN';
      readonly customerId: string;
      readonly balance: number;
      /** Held amounts by payment id; their sum is `reserved`. */
      readonly holds: Readonly<Record<string, number>>;
      readonly reserved: number;
    };

export function availableFunds(state: AccountState): number {
  return state.status === 'OPEN' ? state.balance - state.reserved : 0;
}

const tooLarge = (balance: number, amount: number) =>
  new DomainError('BALANCE_TOO_LARGE', 'the balance would be too large', { balance, amount });

function decide(command: AccountCommand, state: AccountState): readonly AccountEvent[] {
  if (command.type === 'DepositFunds') {
    const balance = state.status === 'OPEN' ? state.balance : 0;
    if (!Number.isSafeInteger(balance + command.amount)) throw tooLarge(balance, command.amount);
    return [
      {
        type: 'FundsDeposited',
        data: { customerId: command.customerId, amount: command.amount },
      },
    ];
  }
  if (command.type === 'RecordHolder') {
    const { customerId, name, email, at } = command;
    return [{ type: 'AccountHolderRecorded', data: { customerId, name, email, recordedAt: at } }];
  }
  if (command.type === 'ReserveFunds') {
    const held = state.status === 'OPEN' ? state.holds[command.paymentId] : undefined;
    if (held === command.amount || command.amount === 0) return [];
    if (held !== undefined)
      throw new DomainError('HOLD_CONFLICT', `payment ${command.paymentId} already holds ${held}`, {
        held,
        requested: command.amount,
      });
    const available = availableFunds(state);
    if (state.status !== 'OPEN' || available < command.amount)
      throw new DomainError(
        'INSUFFICIENT_FUNDS',
        `${command.amount} requested, ${available} available`,
        { amount: command.amount, available },
      );
    return [
      {
        type: 'FundsReserved',
        data: {
          customerId: state.customerId,
          paymentId: command.paymentId,
          amount: command.amount,
        },
      },
    ];
  }
  if (state.status !== 'OPEN')
    throw new DomainError('ACCOUNT_NOT_FOUND', 'the customer has no account');
  const { customerId } = state;
  switch (command.type) {
    case 'ReleaseFunds':
    case 'DebitFunds': {
      const amount = state.holds[command.paymentId];
      if (amount === undefined) return [];
      const type = command.type === 'ReleaseFunds' ? 'FundsReleased' : 'FundsDebited';
      return [{ type, data: { customerId, paymentId: command.paymentId, amount } }];
    }
    case 'CreditFunds':
      if (command.amount === 0) return [];
      if (!Number.isSafeInteger(state.balance + command.amount))
        throw tooLarge(state.balance, command.amount);
      return [
        {
          type: 'FundsCredited',
          data: { customerId, paymentId: command.paymentId, amount: command.amount },
        },
      ];
    default:
      return assertNever(command);
  }
}

function evolve(state: AccountState, event: AccountEvent): AccountState {
  if (event.type === 'FundsDeposited') {
    return state.status === 'OPEN'
      ? { ...state, balance: state.balance + event.data.amount }
      : {
          status: 'OPEN',
          customerId: event.data.customerId,
          balance: event.data.amount,
          holds: {},
          reserved: 0,
        };
  }
  if (event.type === 'AccountHolderRecorded') {
    // A new account starts with its holder; the holder is not kept (no decision needs it, and
    // snapshots are written from the state).
    return state.status === 'OPEN'
      ? state
      : { status: 'OPEN', customerId: event.data.customerId, balance: 0, holds: {}, reserved: 0 };
  }
  if (state.status !== 'OPEN') return state;
  const { paymentId, amount } = event.data;
  switch (event.type) {
    case 'FundsReserved':
      return {
        ...state,
        holds: { ...state.holds, [paymentId]: amount },
        reserved: state.reserved + amount,
      };
    case 'FundsReleased':
      return {
        ...state,
        holds: withoutKey(state.holds, paymentId),
        reserved: state.reserved - amount,
      };
    case 'FundsDebited':
      return {
        ...state,
        balance: state.balance - amount,
        holds: withoutKey(state.holds, paymentId),
        reserved: state.reserved - amount,
      };
    case 'FundsCredited':
      return { ...state, balance: state.balance + amount };
    default:
      return assertNever(event);
  }
}

export const accountDecider: Decider<AccountCommand, AccountEvent, AccountState> = {
  initialState: () => ({ status: 'NONE' }),
  decide,
  evolve,
};
