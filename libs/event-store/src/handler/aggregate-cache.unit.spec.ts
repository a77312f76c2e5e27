import { AggregateCache } from './aggregate-cache';

describe('AggregateCache', () => {
  const definition = {};

  it('keeps the most recently used streams up to its size', () => {
    const cache = new AggregateCache(2);
    cache.set('a', definition, 1, 'A1');
    cache.set('b', definition, 1, 'B1');
    expect(cache.get('a', definition)).toEqual({ version: 1, state: 'A1' }); // a is now recent
    cache.set('c', definition, 1, 'C1');
    expect(cache.get('b', definition)).toBeUndefined();
    expect(cache.get('a', definition)).toEqual({ version: 1, state: 'A1' });
    expect(cache.get('c', definition)).toEqual({ version: 1, state: 'C1' });
    expect(cache.size).toBe(2);
  });

  it('never goes back to an older version, and answers only for the definition that folded it', () => {
    const cache = new AggregateCache(10);
    cache.set('a', definition, 5, 'five');
    cache.set('a', definition, 4, 'four'); // a load that read before the append that made 5
    expect(cache.get('a', definition)).toEqual({ version: 5, state: 'five' });
    expect(cache.get('a', {})).toBeUndefined();
    cache.set('a', definition, 6, 'six');
    expect(cache.get('a', definition)).toEqual({ version: 6, state: 'six' });
    cache.delete('a');
    expect(cache.get('a', definition)).toBeUndefined();
  });

  it('keeps nothing at size 0', () => {
    const cache = new AggregateCache(0);
    cache.set('a', definition, 1, 'A1');
    expect(cache.get('a', definition)).toBeUndefined();
  });
});
