import { EventValidationError } from '../store/errors';
import { EventRegistry } from './registry';
import { uuidv7 } from '../store/uuid';

describe('EventRegistry', () => {
  const registry = new EventRegistry(
    [
      {
        type: 'OrderCreated',
        schemaVersion: 3,
        validate: (d) =>
          (d as { total?: unknown }).total === undefined ? ['total: required'] : [],
      },
    ],
    [
      // v1 was named OrderPlaced with `amount`; v2 renamed it; v3 moved money to minor units.
      {
        type: 'OrderPlaced',
        fromVersion: 1,
        upcast: (d) => ({
          type: 'OrderCreated',
          data: { total: (d as { amount: number }).amount },
        }),
      },
      {
        type: 'OrderCreated',
        fromVersion: 2,
        upcast: (d) => ({ data: { total: (d as { total: number }).total * 100 } }),
      },
    ],
  );

  it('applies the whole chain, renames included, up to the current version', () => {
    expect(
      registry.upcast({ type: 'OrderPlaced', schemaVersion: 1, data: { amount: 12 } }),
    ).toEqual({
      type: 'OrderCreated',
      schemaVersion: 3,
      data: { total: 1200 },
    });
    expect(registry.upcast({ type: 'OrderCreated', schemaVersion: 2, data: { total: 5 } })).toEqual(
      {
        type: 'OrderCreated',
        schemaVersion: 3,
        data: { total: 500 },
      },
    );
  });

  it('leaves a current event as it is', () => {
    const current = { type: 'OrderCreated', schemaVersion: 3, data: { total: 1 } };
    expect(registry.upcast(current)).toBe(current);
  });

  it('validates before an append and names the problems', () => {
    expect(registry.prepare('OrderCreated', { total: 1 })).toBe(3);
    expect(() => registry.prepare('OrderCreated', {})).toThrow(
      new EventValidationError('OrderCreated', ['total: required']),
    );
    expect(() => registry.prepare('Unknown', {})).toThrow("unknown event type 'Unknown'");
  });

  it('refuses ambiguous registrations and chains that never end', () => {
    const schema = { type: 'A', schemaVersion: 1, validate: () => [] };
    expect(() => new EventRegistry([schema, schema])).toThrow('event type A registered twice');
    const up = { type: 'A', fromVersion: 1, upcast: (d: unknown) => ({ data: d }) };
    expect(() => new EventRegistry([], [up, up])).toThrow('two upcasters for A@1');
    // The events table has no CHECK on schema versions: the registry is their guard.
    for (const schemaVersion of [0, -1, 1.5, Number.NaN]) {
      expect(() => new EventRegistry([{ ...schema, schemaVersion }])).toThrow(
        `event type A: schemaVersion must be a positive integer, got ${schemaVersion}`,
      );
    }
    const loop = new EventRegistry(
      [],
      [
        { type: 'A', fromVersion: 1, upcast: (d) => ({ type: 'B', data: d }) },
        { type: 'B', fromVersion: 2, upcast: (d) => ({ type: 'A', data: d }) },
      ],
    );
    // A@1 -> B@2 -> A@3: ends, because versions only go up.
    expect(loop.upcast({ type: 'A', schemaVersion: 1, data: 0 })).toMatchObject({
      type: 'A',
      schemaVersion: 3,
    });
  });
});

describe('uuidv7', () => {
  it('is an RFC 9562 version 7 UUID carrying the time, ordered by it', () => {
    const id = uuidv7(0x0190_1234_5678);
    expect(id).toMatch(/^01901234-5678-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const ids = [uuidv7(1_000), uuidv7(2_000), uuidv7(3_000)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(Array.from({ length: 1000 }, () => uuidv7(5)))).toHaveProperty('size', 1000);
  });
});
