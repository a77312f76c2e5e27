// text-rows.ts drives pg's private connection API through casts: these checks fail loudly, at
// unit level, when an upgrade of pg changes what it relies on, instead of appends hanging or
// misreading rows in production. When one fails: review text-rows.ts against the new pg (or run
// the services with `wire: 'pg'`), then move PG_WIRE_VERSION.
import { readFileSync } from 'node:fs';
import { Client } from 'pg';
import { PG_WIRE_VERSION, TextRowsQuery } from './text-rows';

const pgRoot = require.resolve('pg/package.json').replace(/package\.json$/, '');

describe('the pg internals text-rows.ts relies on', () => {
  it('is the pg release it was written against', () => {
    const { version } = JSON.parse(readFileSync(`${pgRoot}package.json`, 'utf8')) as {
      version: string;
    };
    expect(version).toBe(PG_WIRE_VERSION);
  });

  it("has the connection's message writers and statement bookkeeping", () => {
    const client = new Client();
    const connection = (client as unknown as { connection: Record<string, unknown> }).connection;
    for (const method of ['parse', 'bind', 'execute', 'sync', 'sendCopyFail'])
      expect({ method, type: typeof connection[method] }).toEqual({ method, type: 'function' });
    expect(connection['parsedStatements']).toEqual({});
    expect(connection['submittedNamedStatements']).toEqual({});
    const stream = connection['stream'] as { cork?: unknown; uncork?: unknown };
    expect([typeof stream.cork, typeof stream.uncork]).toEqual(['function', 'function']);
  });

  it('delegates every server message to its active query by a handler the wire query has', () => {
    const source = readFileSync(`${pgRoot}lib/client.js`, 'utf8');
    const handlers = [
      ...new Set([...source.matchAll(/activeQuery\.(handle\w+)\(/g)].map((m) => m[1])),
    ];
    expect(handlers.length).toBeGreaterThanOrEqual(9);
    const query = new TextRowsQuery([], () => undefined) as unknown as Record<string, unknown>;
    for (const handler of handlers)
      expect({ handler, type: typeof query[handler ?? ''] }).toEqual({ handler, type: 'function' });
    // The bookkeeping a prepared statement's name and text go through: text-rows.ts sets and
    // reads the same two maps, with the query's `name` and `text`.
    expect(source).toContain(
      'this.connection.parsedStatements[activeQuery.name] = activeQuery.text',
    );
    expect(source).toContain('delete this.connection.submittedNamedStatements[activeQuery.name]');
  });
});
