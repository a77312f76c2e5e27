import { buildAppend, shapeKey, type AppendInput } from './append-statement';

function parameterNumbers(sql: string): number[] {
  return [...new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
}

/** A shape as before: events, per outbox message `e` (event, headers), `E` (event), `p` (payload). */
interface Shape {
  readonly events: number;
  readonly outbox: string;
  readonly inbox: boolean;
  readonly snapshot: boolean;
  readonly newStream: boolean;
  readonly raiseOnConflict?: boolean;
  readonly summary?: boolean;
}

/** An append of that shape, with a distinct value everywhere. */
function inputFor(shape: Shape): AppendInput {
  return {
    streamType: 'counter',
    streamId: 'c-1',
    expected: shape.newStream ? 0 : 3,
    metadata: '{"correlationId":"c"}',
    events: Array.from({ length: shape.events }, (_, i) => ({
      id: `00000000-0000-7000-8000-${String(i).padStart(12, '0')}`,
      type: 'Incremented',
      schemaVersion: 1,
      data: `{"n":${i}}`,
    })),
    outbox: Array.from(shape.outbox, (kind) => kind).map((kind, i) =>
      kind === 'p'
        ? { topic: 't', key: 'k', messageId: `m-${i}`, headers: '{}', payload: '{}' }
        : {
            eventIndex: i % Math.max(1, shape.events),
            topic: 't',
            headers: kind === 'e' ? '{"h":"1"}' : undefined,
          },
    ),
    inbox: shape.inbox ? { consumer: 'c', messageId: 'm', result: 'null' } : undefined,
    snapshot: shape.snapshot ? { schemaVersion: 1, state: '{}' } : undefined,
    summary: shape.summary
      ? { status: 'RUNNING', step: 's', dueAt: null, startedAt: '2026-01-01T00:00:00Z' }
      : undefined,
    raiseOnConflict: shape.raiseOnConflict ?? false,
  };
}

// What an append of a shape binds: 3, metadata if there are events, 4 per event; per event
// message its topic, the event's id unless there is one event, headers for `e`; 5 per payload
// message; 3 for an inbox mark, 2 for a snapshot, 4 for a summary.
function valuesFor(shape: Shape): number {
  let n = 3 + (shape.events > 0 ? 1 : 0) + 4 * shape.events;
  for (const kind of shape.outbox) {
    if (kind === 'p') n += 5;
    else n += 1 + (shape.events === 1 ? 0 : 1) + (kind === 'e' ? 1 : 0);
  }
  return n + (shape.inbox ? 3 : 0) + (shape.snapshot ? 2 : 0) + (shape.summary ? 4 : 0);
}

const text = (shape: Shape) => buildAppend(inputFor(shape)).statement.text;

describe('buildAppend', () => {
  const shapes: Shape[] = [
    { events: 1, outbox: 'e', inbox: false, snapshot: false, newStream: false },
    { events: 1, outbox: 'E', inbox: true, snapshot: false, newStream: true },
    { events: 1, outbox: 'Ep', inbox: false, snapshot: true, newStream: false },
    { events: 3, outbox: 'EeE', inbox: false, snapshot: false, newStream: true },
    { events: 3, outbox: 'eep', inbox: true, snapshot: true, newStream: false },
    { events: 0, outbox: 'p', inbox: true, snapshot: false, newStream: false },
    { events: 2, outbox: '', inbox: false, snapshot: true, newStream: false },
    { events: 20, outbox: 'e'.repeat(20), inbox: false, snapshot: false, newStream: false },
    { events: 2, outbox: 'ep', inbox: true, snapshot: true, newStream: true },
    { events: 0, outbox: 'p', inbox: false, snapshot: false, newStream: true },
    { events: 1, outbox: 'Ep', inbox: true, snapshot: true, newStream: false, summary: true },
    { events: 2, outbox: 'E', inbox: false, snapshot: false, newStream: true, summary: true },
  ];

  it.each(shapes)(
    'uses exactly the parameters it binds, numbered without gaps, as few as the shape needs: %j',
    (shape) => {
      // Twice: the second call takes the shape's text from the cache and binds its values again.
      for (let i = 0; i < 2; i++) {
        const { statement, values } = buildAppend(inputFor(shape));
        expect(values).toHaveLength(valuesFor(shape));
        expect(parameterNumbers(statement.text)).toEqual(
          Array.from({ length: values.length }, (_, k) => k + 1),
        );
      }
    },
  );

  it('binds each value where its placeholder stands', () => {
    const { statement, values } = buildAppend(
      inputFor({ events: 1, outbox: 'p', inbox: true, snapshot: false, newStream: false }),
    );
    const at = (value: string | null) => `$${values.indexOf(value) + 1}`;
    expect(statement.text).toContain(`stream_type = ${at('counter')} AND stream_id = ${at('c-1')}`);
    expect(statement.text).toContain(`${at('m-0')}::uuid`);
    expect(statement.text).toContain(
      `SELECT ${at('c')}::text, ${at('m')}::text, ${at('null')}::jsonb FROM allowed`,
    );
  });

  it('writes only the parts a shape uses', () => {
    const one = text({ events: 1, outbox: 'e', inbox: false, snapshot: false, newStream: false });
    expect(one).toContain('INSERT INTO events');
    expect(one).toContain('INSERT INTO outbox');
    expect(one).not.toContain('INSERT INTO inbox');
    expect(one).not.toContain('INSERT INTO snapshots');
    const deadLetter = text({
      events: 0,
      outbox: 'p',
      inbox: true,
      snapshot: false,
      newStream: false,
    });
    expect(deadLetter).not.toContain('INSERT INTO events');
    expect(deadLetter).toContain('INSERT INTO inbox');
    // Only a shape that writes outbox rows may have to wake the relay.
    const wake = 'pg_try_advisory_xact_lock_shared';
    expect(one).toContain(wake);
    expect(deadLetter).toContain(wake);
    expect(
      text({ events: 2, outbox: '', inbox: false, snapshot: false, newStream: false }),
    ).not.toContain(wake);
  });

  it('reads the stream version unless a new stream has events to write', () => {
    const read = 'SELECT COALESCE(MAX(stream_version), 0)';
    const shape: Shape = {
      events: 1,
      outbox: 'e',
      inbox: false,
      snapshot: false,
      newStream: false,
    };
    expect(text(shape)).toContain(read);
    expect(text({ ...shape, newStream: true })).not.toContain(read);
    expect(text({ ...shape, events: 0, outbox: 'p', newStream: true })).toContain(read);
  });

  it('prepares small shapes once under a name per shape, and plans large ones each time', () => {
    const shape: Shape = {
      events: 2,
      outbox: 'ep',
      inbox: false,
      snapshot: false,
      newStream: false,
    };
    const a = buildAppend(inputFor(shape)).statement;
    expect(a.name).toBe(`es_append_${shapeKey(inputFor(shape))}`);
    expect(buildAppend(inputFor({ ...shape })).statement).toBe(a);
    expect(buildAppend(inputFor({ ...shape, inbox: true })).statement.name).not.toBe(a.name);
    expect(
      buildAppend(
        inputFor({ events: 9, outbox: '', inbox: false, snapshot: false, newStream: false }),
      ).statement.name,
    ).toBeUndefined();
  });
});
