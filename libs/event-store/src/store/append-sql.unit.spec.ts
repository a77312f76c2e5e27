import { appendStatement, shapeKey, type AppendShape } from './append-sql';

function parameterNumbers(sql: string): number[] {
  return [...new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))].sort((a, b) => a - b);
}

// What PostgresEventStore.append passes for a shape: 3, metadata if there are events, 4 per
// event; per event message its topic, the event's id unless there is one event, headers for
// `e`; 5 per payload message; 3 for an inbox mark, 2 for a snapshot.
function valuesFor(shape: AppendShape): number {
  let n = 3 + (shape.events > 0 ? 1 : 0) + 4 * shape.events;
  for (const kind of shape.outbox) {
    if (kind === 'p') n += 5;
    else n += 1 + (shape.events === 1 ? 0 : 1) + (kind === 'e' ? 1 : 0);
  }
  return n + (shape.inbox ? 3 : 0) + (shape.snapshot ? 2 : 0);
}

describe('appendStatement', () => {
  const shapes: AppendShape[] = [
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
  ];

  it.each(shapes)(
    'uses exactly the parameters the store passes, numbered without gaps: %j',
    (shape) => {
      const { text } = appendStatement(shape);
      const used = parameterNumbers(text);
      expect(used).toEqual(Array.from({ length: valuesFor(shape) }, (_, i) => i + 1));
    },
  );

  it('writes only the parts a shape uses', () => {
    const { text } = appendStatement({
      events: 1,
      outbox: 'e',
      inbox: false,
      snapshot: false,
      newStream: false,
    });
    expect(text).toContain('INSERT INTO events');
    expect(text).toContain('INSERT INTO outbox');
    expect(text).not.toContain('INSERT INTO inbox');
    expect(text).not.toContain('INSERT INTO snapshots');
    const deadLetter = appendStatement({
      events: 0,
      outbox: 'p',
      inbox: true,
      snapshot: false,
      newStream: false,
    });
    expect(deadLetter.text).not.toContain('INSERT INTO events');
    expect(deadLetter.text).toContain('INSERT INTO inbox');
    // Only a shape that writes outbox rows may have to wake the relay.
    const wake = 'pg_try_advisory_xact_lock_shared';
    expect(text).toContain(wake);
    expect(deadLetter.text).toContain(wake);
    const eventsOnly = { events: 2, outbox: '', inbox: false, snapshot: false, newStream: false };
    expect(appendStatement(eventsOnly).text).not.toContain(wake);
  });

  it('reads the stream version unless a new stream has events to write', () => {
    const read = 'SELECT COALESCE(MAX(stream_version), 0)';
    const shape: AppendShape = {
      events: 1,
      outbox: 'e',
      inbox: false,
      snapshot: false,
      newStream: false,
    };
    expect(appendStatement(shape).text).toContain(read);
    expect(appendStatement({ ...shape, newStream: true }).text).not.toContain(read);
    expect(appendStatement({ ...shape, events: 0, outbox: 'p', newStream: true }).text).toContain(
      read,
    );
  });

  it('prepares small shapes once under a name per shape, and plans large ones each time', () => {
    const shape: AppendShape = {
      events: 2,
      outbox: 'ep',
      inbox: false,
      snapshot: false,
      newStream: false,
    };
    const a = appendStatement(shape);
    expect(a.name).toBe(`es_append_${shapeKey(shape)}`);
    expect(appendStatement({ ...shape })).toBe(a);
    expect(appendStatement({ ...shape, inbox: true }).name).not.toBe(a.name);
    expect(
      appendStatement({ events: 9, outbox: '', inbox: false, snapshot: false, newStream: false })
        .name,
    ).toBeUndefined();
  });
});
