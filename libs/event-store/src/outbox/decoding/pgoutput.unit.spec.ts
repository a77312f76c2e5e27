// The pgoutput decoder on messages built byte by byte from PostgreSQL's "Logical Replication
// Message Formats" (protocol 1), and the replication framing around them.
import {
  decodePgOutput,
  decodeReplicationMessage,
  formatLsn,
  parseLsn,
  standbyStatusUpdate,
} from './pgoutput';

const int8 = (n: number) => Buffer.from([n]);
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};
const int64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const cstring = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), int8(0)]);
const tag = (c: string) => Buffer.from(c, 'latin1');
/** 2026-12-03T12:00:00Z in µs since 2000-01-01. */
const MICROS = BigInt(Date.UTC(2026, 11, 3, 12) - Date.UTC(2000, 0, 1)) * 1000n;

describe('pgoutput', () => {
  it('reads LSNs in their text form and back', () => {
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n);
    expect(formatLsn(parseLsn('0/1A2B'))).toBe('0/1A2B');
    expect(() => parseLsn('nope')).toThrow('not an LSN: nope');
  });

  it('decodes begin, relation, insert (text, null) and commit', () => {
    const begin = Buffer.concat([tag('B'), int64(0x100n), int64(MICROS), int32(4242)]);
    expect(decodePgOutput(begin)).toEqual({
      tag: 'begin',
      finalLsn: 0x100n,
      commitTimeMs: Date.UTC(2026, 11, 3, 12),
      xid: 4242,
    });
    const relation = Buffer.concat([
      tag('R'),
      int32(16384),
      cstring('public'),
      cstring('outbox'),
      int8(100), // replica identity 'd'
      int16(2),
      int8(1),
      cstring('id'),
      int32(20),
      int32(0xffffffff),
      int8(0),
      cstring('payload'),
      int32(3802),
      int32(0xffffffff),
    ]);
    expect(decodePgOutput(relation)).toEqual({
      tag: 'relation',
      relation: {
        id: 16384,
        namespace: 'public',
        name: 'outbox',
        columns: [
          { name: 'id', typeOid: 20 },
          { name: 'payload', typeOid: 3802 },
        ],
      },
    });
    const value = '{"é": 1}';
    const insert = Buffer.concat([
      tag('I'),
      int32(16384),
      tag('N'),
      int16(2),
      tag('t'),
      int32(2),
      Buffer.from('42'),
      tag('n'),
    ]);
    expect(decodePgOutput(insert)).toEqual({
      tag: 'insert',
      relationId: 16384,
      values: ['42', null],
    });
    const utf8 = Buffer.concat([
      tag('I'),
      int32(1),
      tag('N'),
      int16(1),
      tag('t'),
      int32(Buffer.byteLength(value)),
      Buffer.from(value, 'utf8'),
    ]);
    expect(decodePgOutput(utf8)).toMatchObject({ values: [value] });
    const commit = Buffer.concat([tag('C'), int8(0), int64(0x200n), int64(0x228n), int64(MICROS)]);
    expect(decodePgOutput(commit)).toEqual({
      tag: 'commit',
      commitLsn: 0x200n,
      endLsn: 0x228n,
      commitTimeMs: Date.UTC(2026, 11, 3, 12),
    });
  });

  it('passes over what it does not publish and refuses what it cannot read', () => {
    expect(decodePgOutput(Buffer.concat([tag('D'), int32(1)]))).toEqual({
      tag: 'other',
      kind: 'D',
    });
    expect(() => decodePgOutput(tag('Z'))).toThrow("pgoutput: unknown message 'Z'");
    const binary = Buffer.concat([tag('I'), int32(1), tag('N'), int16(1), tag('b'), int32(0)]);
    expect(() => decodePgOutput(binary)).toThrow("column format 'b'");
  });

  it('unwraps XLogData and keepalives', () => {
    const data = Buffer.from('payload');
    const xlog = Buffer.concat([tag('w'), int64(7n), int64(9n), int64(MICROS), data]);
    expect(decodeReplicationMessage(xlog)).toEqual({ tag: 'xlog', start: 7n, walEnd: 9n, data });
    const keepalive = Buffer.concat([tag('k'), int64(11n), int64(MICROS), int8(1)]);
    expect(decodeReplicationMessage(keepalive)).toEqual({
      tag: 'keepalive',
      walEnd: 11n,
      replyRequested: true,
    });
  });

  it('writes the standby status update: the flushed position three times, the clock, the reply flag', () => {
    const update = standbyStatusUpdate(0x1234n, Date.UTC(2026, 11, 3, 12), true);
    expect(update).toHaveLength(34);
    expect(update.toString('latin1', 0, 1)).toBe('r');
    expect([1, 9, 17].map((at) => update.readBigUInt64BE(at))).toEqual([0x1234n, 0x1234n, 0x1234n]);
    expect(update.readBigInt64BE(25)).toBe(MICROS);
    expect(update.readUInt8(33)).toBe(1);
  });
});
