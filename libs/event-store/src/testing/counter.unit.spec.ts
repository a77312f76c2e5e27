// The store's test aggregate, specified given/when/then with @es/decider's helper.
import { deciderSpec } from '@es/decider';
import { counterDecider } from './counter';

const spec = deciderSpec(counterDecider);

describe('counter decider', () => {
  it('opens once', () => {
    expect(spec.given([]).when({ type: 'Open', limit: 3 }).events).toEqual([
      { type: 'CounterOpened', data: { limit: 3 } },
    ]);
    expect(
      spec.given([{ type: 'CounterOpened', data: { limit: 3 } }]).when({ type: 'Open', limit: 3 })
        .error?.code,
    ).toBe('ALREADY_OPEN');
  });

  it('increments up to its limit and refuses beyond it', () => {
    const history = [
      { type: 'CounterOpened', data: { limit: 3 } },
      { type: 'Incremented', data: { amount: 2 } },
    ] as const;
    expect(spec.given(history).when({ type: 'Increment', amount: 1 }).events).toEqual([
      { type: 'Incremented', data: { amount: 1 } },
    ]);
    const refused = spec.given(history).when({ type: 'Increment', amount: 2 });
    expect(refused.events).toBeUndefined();
    expect(refused.error?.code).toBe('LIMIT');
    expect(spec.given([]).when({ type: 'Increment', amount: 1 }).error?.code).toBe('NOT_OPEN');
  });
});
