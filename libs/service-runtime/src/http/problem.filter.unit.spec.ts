// Given an error, when it is answered, then an engine that cannot be reached is a 503 to retry,
// while a plain failure stays a 500 (no problem a client can act on).
import { OverloadedError } from '@es/event-store';
import { isEngineUnavailable, problemOf } from './problem.filter';

const withCode = (code: string, message = code) => Object.assign(new Error(message), { code });
const named = (name: string) => Object.assign(new Error(name), { name });

describe('an engine that cannot serve the request', () => {
  it.each([
    ['a refused connection', withCode('ECONNREFUSED')],
    ['a reset connection', withCode('ECONNRESET')],
    ['PostgreSQL shutting down (57P01)', withCode('57P01', 'terminating connection')],
    ['PostgreSQL refusing connections (53300)', withCode('53300', 'too many clients')],
    ['a connection exception (08006)', withCode('08006', 'connection failure')],
    ['a connection lost mid-query', new Error('Connection terminated unexpectedly')],
    ['a pool that could not connect', new Error('timeout exceeded when trying to connect')],
    ['PostgreSQL silent past the query timeout', new Error('Query read timeout')],
    ['a read model past its operation timeout', withCode('ETIMEDOUT', 'did not answer')],
    ['no MongoDB server to select', named('MongoServerSelectionError')],
    ['a MongoDB network error', named('MongoNetworkError')],
    ['every address refused', new AggregateError([withCode('ECONNREFUSED')], 'all failed')],
    ['a wrapped cause', new Error('append failed', { cause: withCode('ECONNREFUSED') })],
  ])('%s is a 503 with Retry-After', (_what, error) => {
    expect(isEngineUnavailable(error)).toBe(true);
    expect(problemOf(error)).toMatchObject({
      status: 503,
      code: 'ENGINE_UNAVAILABLE',
      headers: { 'Retry-After': '1' },
    });
  });

  it.each([
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a constraint violation', withCode('23505', 'duplicate key')],
    ['a syntax error in SQL', withCode('42601', 'syntax error')],
    ['not an error at all', 'ECONNREFUSED'],
  ])('%s is not', (_what, error) => {
    expect(isEngineUnavailable(error)).toBe(false);
    expect(problemOf(error)).toBeUndefined();
  });
});

describe('a write the service has no room for', () => {
  it('is a 503 OVERLOADED with Retry-After, saying which queue is full', () => {
    expect(problemOf(new OverloadedError('the group commit queue', 10_000))).toMatchObject({
      status: 503,
      code: 'OVERLOADED',
      detail: expect.stringContaining(
        'the group commit queue holds its limit of 10000 waiting writes',
      ) as string,
      headers: { 'Retry-After': '1' },
    });
  });
});
