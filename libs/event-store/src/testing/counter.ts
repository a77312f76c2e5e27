// A small aggregate for the store's own tests: a counter with a limit, a v1 -> v2 event
// evolution (Incremented v1 had `amount` as a string) and snapshots.
import { DomainError, assertNever, type Decider } from '@es/decider';
import type { AggregateDefinition } from '../handler/aggregate';
import { EventRegistry, type EventSchema, type Upcaster } from '../upcasting/registry';

export type CounterEvent =
  | { type: 'CounterOpened'; data: { limit: number } }
  | { type: 'Incremented'; data: { amount: number } };
export type CounterCommand =
  { type: 'Open'; limit: number } | { type: 'Increment'; amount: number };
export type CounterState = { status: 'none' } | { status: 'open'; limit: number; total: number };

export const counterDecider: Decider<CounterCommand, CounterEvent, CounterState> = {
  initialState: () => ({ status: 'none' }),
  decide(command, state) {
    switch (command.type) {
      case 'Open':
        if (state.status !== 'none')
          throw new DomainError('ALREADY_OPEN', 'counter is already open');
        return [{ type: 'CounterOpened', data: { limit: command.limit } }];
      case 'Increment':
        if (state.status !== 'open') throw new DomainError('NOT_OPEN', 'counter is not open');
        if (state.total + command.amount > state.limit)
          throw new DomainError('LIMIT', 'over the limit');
        return [{ type: 'Incremented', data: { amount: command.amount } }];
      default:
        return assertNever(command);
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'CounterOpened':
        return { status: 'open', limit: event.data.limit, total: 0 };
      case 'Incremented':
        return state.status === 'open'
          ? { ...state, total: state.total + event.data.amount }
          : state;
      default:
        return assertNever(event);
    }
  },
};

const positiveInteger = (field: string, value: unknown): string[] =>
  typeof value === 'number' && Number.isInteger(value) && value > 0
    ? []
    : [`${field}: must be a positive integer`];

export const counterSchemas: EventSchema[] = [
  {
    type: 'CounterOpened',
    schemaVersion: 1,
    validate: (d) => positiveInteger('limit', (d as { limit?: unknown }).limit),
  },
  {
    type: 'Incremented',
    schemaVersion: 2,
    validate: (d) => positiveInteger('amount', (d as { amount?: unknown }).amount),
  },
];

/** Incremented v1 stored `amount` as a decimal string. */
export const counterUpcasters: Upcaster[] = [
  {
    type: 'Incremented',
    fromVersion: 1,
    upcast: (data) => ({ data: { amount: Number((data as { amount: string }).amount) } }),
  },
];

export const counterRegistry = () => new EventRegistry(counterSchemas, counterUpcasters);

export const counter = (
  overrides: Partial<AggregateDefinition<CounterCommand, CounterEvent, CounterState>> = {},
) =>
  ({
    streamType: 'counter',
    decider: counterDecider,
    topic: 'counters.events',
    snapshot: { every: 3, schemaVersion: 1 },
    ...overrides,
  }) satisfies AggregateDefinition<CounterCommand, CounterEvent, CounterState>;
