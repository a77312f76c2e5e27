// The streaming replication protocol as the decoding relay speaks it, and the messages of
// PostgreSQL's built-in logical decoding plugin, pgoutput (protocol version 1), as pure
// functions over buffers: what the server sends inside CopyData (XLogData wrapping a pgoutput
// message, or a keepalive), and the standby status update the client sends back to confirm
// what it has made durable. Formats: PostgreSQL's "Streaming Replication Protocol" and
// "Logical Replication Message Formats" chapters. Values arrive as text, in each column's
// output format; the relay parses them with pg's own type parsers, as a query's rows are.

/** A WAL position. Text form "X/Y" (two hexadecimal 32-bit halves). */
export type Lsn = bigint;

export function parseLsn(text: string): Lsn {
  const [high, low] = text.split('/');
  if (high === undefined || low === undefined || !/^[0-9A-F]+$/i.test(high + low))
    throw new Error(`not an LSN: ${text}`);
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** PostgreSQL's epoch, 2000-01-01 UTC, in Unix milliseconds: replication timestamps count µs from it. */
const PG_EPOCH_MS = 946_684_800_000;

function timestampMs(micros: bigint): number {
  return PG_EPOCH_MS + Number(micros / 1000n);
}

export interface Column {
  readonly name: string;
  readonly typeOid: number;
}

export interface Relation {
  readonly id: number;
  readonly namespace: string;
  readonly name: string;
  readonly columns: readonly Column[];
}

/** A column's value: text in its type's output format, null for SQL NULL, undefined for an unchanged TOAST value (updates only). */
export type TupleValue = string | null | undefined;

export type PgOutputMessage =
  | {
      readonly tag: 'begin';
      readonly finalLsn: Lsn;
      readonly commitTimeMs: number;
      readonly xid: number;
    }
  | {
      readonly tag: 'commit';
      readonly commitLsn: Lsn;
      /** Where the transaction's commit record ends: the position to confirm once it is durable elsewhere. */
      readonly endLsn: Lsn;
      readonly commitTimeMs: number;
    }
  | { readonly tag: 'relation'; readonly relation: Relation }
  | { readonly tag: 'insert'; readonly relationId: number; readonly values: readonly TupleValue[] }
  /** Updates, deletes, truncates, types and origins: nothing the relay publishes. */
  | { readonly tag: 'other'; readonly kind: string };

/** Reads a buffer front to back, in network byte order. */
class Reader {
  private at = 0;
  constructor(private readonly buffer: Buffer) {}

  byte(): number {
    const value = this.buffer.readUInt8(this.at);
    this.at += 1;
    return value;
  }
  int16(): number {
    const value = this.buffer.readInt16BE(this.at);
    this.at += 2;
    return value;
  }
  int32(): number {
    const value = this.buffer.readInt32BE(this.at);
    this.at += 4;
    return value;
  }
  uint32(): number {
    const value = this.buffer.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }
  int64(): bigint {
    const value = this.buffer.readBigUInt64BE(this.at);
    this.at += 8;
    return value;
  }
  /** A NUL-terminated string. */
  cstring(): string {
    const end = this.buffer.indexOf(0, this.at);
    if (end < 0) throw new Error('pgoutput: unterminated string');
    const value = this.buffer.toString('utf8', this.at, end);
    this.at = end + 1;
    return value;
  }
  text(length: number): string {
    const value = this.buffer.toString('utf8', this.at, this.at + length);
    this.at += length;
    return value;
  }
  rest(): Buffer {
    return this.buffer.subarray(this.at);
  }
}

function tuple(reader: Reader): TupleValue[] {
  const count = reader.int16();
  const values: TupleValue[] = [];
  for (let i = 0; i < count; i++) {
    const kind = String.fromCharCode(reader.byte());
    if (kind === 'n') values.push(null);
    else if (kind === 'u') values.push(undefined);
    else if (kind === 't') values.push(reader.text(reader.int32()));
    else throw new Error(`pgoutput: column format '${kind}' (binary was not asked for)`);
  }
  return values;
}

/** One pgoutput message (protocol version 1, no streaming of in-progress transactions). */
export function decodePgOutput(buffer: Buffer): PgOutputMessage {
  const reader = new Reader(buffer);
  const kind = String.fromCharCode(reader.byte());
  switch (kind) {
    case 'B': {
      const finalLsn = reader.int64();
      const commitTimeMs = timestampMs(reader.int64());
      return { tag: 'begin', finalLsn, commitTimeMs, xid: reader.uint32() };
    }
    case 'C': {
      reader.byte(); // flags, unused
      const commitLsn = reader.int64();
      const endLsn = reader.int64();
      return { tag: 'commit', commitLsn, endLsn, commitTimeMs: timestampMs(reader.int64()) };
    }
    case 'R': {
      const id = reader.uint32();
      const namespace = reader.cstring();
      const name = reader.cstring();
      reader.byte(); // replica identity
      const count = reader.int16();
      const columns: Column[] = [];
      for (let i = 0; i < count; i++) {
        reader.byte(); // flags: part of the key
        const column = reader.cstring();
        const typeOid = reader.uint32();
        reader.int32(); // type modifier
        columns.push({ name: column, typeOid });
      }
      return { tag: 'relation', relation: { id, namespace, name, columns } };
    }
    case 'I': {
      const relationId = reader.uint32();
      const marker = String.fromCharCode(reader.byte());
      if (marker !== 'N') throw new Error(`pgoutput: insert without a new tuple ('${marker}')`);
      return { tag: 'insert', relationId, values: tuple(reader) };
    }
    case 'U':
    case 'D':
    case 'T':
    case 'Y':
    case 'O':
    case 'M':
      return { tag: 'other', kind };
    default:
      throw new Error(`pgoutput: unknown message '${kind}'`);
  }
}

export type ReplicationMessage =
  | { readonly tag: 'xlog'; readonly start: Lsn; readonly walEnd: Lsn; readonly data: Buffer }
  | { readonly tag: 'keepalive'; readonly walEnd: Lsn; readonly replyRequested: boolean };

/** What one CopyData of the replication stream carries. */
export function decodeReplicationMessage(chunk: Buffer): ReplicationMessage {
  const reader = new Reader(chunk);
  const kind = String.fromCharCode(reader.byte());
  if (kind === 'w') {
    const start = reader.int64();
    const walEnd = reader.int64();
    reader.int64(); // the server's clock when it sent this
    return { tag: 'xlog', start, walEnd, data: reader.rest() };
  }
  if (kind === 'k') {
    const walEnd = reader.int64();
    reader.int64();
    return { tag: 'keepalive', walEnd, replyRequested: reader.byte() === 1 };
  }
  throw new Error(`replication: unknown message '${kind}'`);
}

/**
 * The standby status update: everything before `flushed` is durable on this side (here: acknowledged
 * by the broker), so the slot may let go of it. Written and applied are reported equal to it.
 */
export function standbyStatusUpdate(flushed: Lsn, nowMs: number, replyRequested: boolean): Buffer {
  const buffer = Buffer.alloc(34);
  buffer.write('r', 0, 'latin1');
  buffer.writeBigUInt64BE(flushed, 1);
  buffer.writeBigUInt64BE(flushed, 9);
  buffer.writeBigUInt64BE(flushed, 17);
  buffer.writeBigInt64BE(BigInt(Math.round(nowMs - PG_EPOCH_MS)) * 1000n, 25);
  buffer.writeUInt8(replyRequested ? 1 : 0, 33);
  return buffer;
}
