import { OverloadedError } from '../store/errors';
import { GroupCommit } from './group-commit';

interface Unit {
  readonly name: string;
  readonly statements: number;
}

/** A run that records each group and finishes it when told. */
function recorder() {
  const groups: string[][] = [];
  const finish: (() => void)[] = [];
  const run = (group: readonly Unit[]) =>
    new Promise<void>((resolve) => {
      groups.push(group.map((u) => u.name));
      finish.push(resolve);
    });
  return { groups, finish, run };
}
const turn = () => new Promise((resolve) => setImmediate(resolve));
const unit = (name: string, statements = 1): Unit => ({ name, statements });

describe('GroupCommit', () => {
  it('sends what is submitted in one turn as one group, and what comes meanwhile as the next', async () => {
    const { groups, finish, run } = recorder();
    const commit = new GroupCommit<Unit>({ maxInFlight: 1 }, run);
    commit.submit(unit('a'));
    commit.submit(unit('b'));
    expect(groups).toEqual([]); // not before the next turn of the event loop
    await turn();
    expect(groups).toEqual([['a', 'b']]);
    commit.submit(unit('c'));
    commit.submit(unit('d'));
    await turn();
    expect(groups).toHaveLength(1); // one group in flight at most
    finish[0]!();
    await turn();
    expect(groups).toEqual([
      ['a', 'b'],
      ['c', 'd'],
    ]);
  });

  it('keeps up to maxInFlight groups on their way, and at most maxStatements in each', async () => {
    const { groups, finish, run } = recorder();
    const commit = new GroupCommit<Unit>({ maxInFlight: 2, maxStatements: 4 }, run);
    commit.submit(unit('a'));
    await turn();
    commit.submit(unit('b', 3));
    commit.submit(unit('c', 2));
    commit.submit(unit('d', 9)); // more than a group holds: it goes alone
    commit.submit(unit('e'));
    await turn();
    expect(groups).toEqual([['a'], ['b']]);
    finish[0]!();
    await turn();
    expect(groups).toEqual([['a'], ['b'], ['c']]);
    finish[1]!();
    finish[2]!();
    await turn();
    expect(groups).toEqual([['a'], ['b'], ['c'], ['d'], ['e']]);
  });

  it('refuses limits that are not positive integers', () => {
    const run = () => Promise.resolve();
    expect(() => new GroupCommit<Unit>({ maxInFlight: 0 }, run)).toThrow(
      'groupCommit.maxInFlight must be a positive integer, got 0',
    );
    expect(() => new GroupCommit<Unit>({ maxStatements: 1.5 }, run)).toThrow(RangeError);
  });

  it('refuses a unit at once, queueing nothing, when maxQueued already wait; takes units again once they have gone', async () => {
    const { groups, finish, run } = recorder();
    const commit = new GroupCommit<Unit>({ maxInFlight: 1, maxQueued: 2 }, run);
    commit.submit(unit('a'));
    await turn(); // a is on its way; what comes now waits
    commit.submit(unit('b'));
    commit.submit(unit('c'));
    expect(() => {
      commit.submit(unit('d'));
    }).toThrow(OverloadedError);
    finish[0]!();
    await turn();
    commit.submit(unit('e')); // b and c have gone: room again
    finish[1]!();
    await turn();
    finish[2]?.();
    await turn();
    expect(groups.flat()).toEqual(['a', 'b', 'c', 'e']);
  });
});
