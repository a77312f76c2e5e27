import { defineSaga, stepKinds, type StepDefinition } from './saga-definition';

const command = { topic: 't', type: 'Do', version: 1, data: {} };
const table = (steps: StepDefinition<unknown>[]) => ({
  type: 'test-saga',
  deadlineMs: 1_000,
  maxAttempts: 3,
  backoffMs: 10,
  steps,
});
const trigger = { name: 'trigger', participant: 'a', compensation: () => command };
const undoable = {
  name: 'undoable',
  participant: 'b',
  invoke: () => command,
  compensation: () => command,
};
const pivot = { name: 'pivot', participant: 'c', invoke: () => command };
const retriable = { name: 'retriable', participant: 'd', invoke: () => command, retriable: true };

describe('a saga table', () => {
  it('names each step by what a failure does to it', () => {
    expect(stepKinds(table([trigger, undoable, pivot, retriable]))).toEqual([
      'trigger',
      'compensatable',
      'pivot',
      'retriable',
    ]);
  });

  it('counts a trigger that cannot be undone as the pivot: every step after it is retriable', () => {
    const irrevocable = { name: 'asked', participant: 'a' };
    expect(stepKinds(table([irrevocable, retriable]))).toEqual(['trigger', 'retriable']);
    expect(() => defineSaga(table([irrevocable, undoable]))).toThrow(/must be retriable/);
    expect(() => defineSaga(table([irrevocable, pivot]))).toThrow(/at most one pivot/);
  });

  it.each([
    [
      'a step without a command after the first',
      [trigger, { ...trigger, name: 'x' }],
      /only the first step/,
    ],
    ['two pivots', [pivot, { ...pivot, name: 'p2' }], /at most one pivot/],
    ['a compensatable step past the pivot', [pivot, undoable], /must be retriable/],
    ['a retriable step before the pivot', [retriable, pivot], /after the pivot/],
    [
      'a retriable step with a compensation',
      [pivot, { ...retriable, compensation: () => command }],
      /never compensated/,
    ],
    ['no command at all', [trigger], /at least one step/],
  ])('refuses %s', (_, steps, message) => {
    expect(() => defineSaga(table(steps as StepDefinition<unknown>[]))).toThrow(message);
  });
});
