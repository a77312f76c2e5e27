// A PostgreSQL connection in logical replication mode (pg's `replication: 'database'`), for the
// decoding relay: it creates and drops a slot (replication commands, over the simple query
// protocol) and streams the slot's changes (START_REPLICATION, after which the connection is in
// copy-both mode: the server sends CopyData, the client answers with CopyData). pg parses
// every message of that mode; this drives it as a Submittable, the interface pg-cursor and
// pg-copy-streams use, with pg's Connection's own senders.
import { Client, type ClientConfig, type Connection } from 'pg';
import { WireQuery } from '../../pg/text-rows';
import {
  decodeReplicationMessage,
  parseLsn,
  standbyStatusUpdate,
  type Lsn,
  type ReplicationMessage,
} from './pgoutput';

/** Quotes an identifier for a replication command (slot and publication names are checked too). */
function identifier(name: string): string {
  if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`not a slot or publication name: ${name}`);
  return `"${name}"`;
}

/** The parts of pg 8's Connection this uses (see text-rows.ts for the pin on its version). */
interface CopyBothConnection {
  readonly stream: { pause(): void; resume(): void };
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
}

/**
 * START_REPLICATION as pg's active query: CopyData messages go to `onMessage`, in order; it
 * finishes (the callback) when the server ends the stream or the connection fails.
 */
class StartReplication extends WireQuery<undefined> {
  connection: CopyBothConnection | undefined;

  constructor(
    readonly text: string,
    private readonly onMessage: (message: ReplicationMessage) => void,
    callback: (error: Error | undefined) => void,
  ) {
    super(callback);
  }

  submit(connection: Connection): void {
    this.connection = connection as unknown as CopyBothConnection;
    this.connection.query(this.text);
  }

  /** pg always passes the message (optional only to match the base, which takes none). */
  override handleCopyData(message?: { chunk: Buffer }): void {
    if (!message || this.error) return;
    try {
      this.onMessage(decodeReplicationMessage(message.chunk));
    } catch (error) {
      // A message the relay cannot read, or a handler that failed: stop the stream here, since
      // a later message must not be handled past one that was not.
      this.error = error as Error;
      this.finish();
    }
  }

  handleDataRow(): void {}

  protected result(): undefined {
    return undefined;
  }
}

export interface CreatedSlot {
  /** The first transaction the slot streams commits after this. */
  readonly consistentPoint: Lsn;
  /** Valid until this connection's next command: a transaction that imports it sees exactly what committed before the slot's first transaction. */
  readonly snapshotName: string;
}

export interface ReplicationStream {
  /** Everything before `lsn` is durable: the slot may let go of it. */
  confirm(lsn: Lsn, replyRequested?: boolean): void;
  /** Stops reading from the socket (the server waits), and reads again. */
  pause(): void;
  resume(): void;
  /** Settles when the stream ends: rejects with the error that ended it, resolves when the connection was closed by close(). */
  readonly ended: Promise<void>;
}

export class ReplicationConnection {
  private readonly client: Client;
  private closing = false;

  constructor(config: ClientConfig, applicationName: string) {
    this.client = new Client({
      ...config,
      application_name: applicationName,
      replication: 'database',
    } as ClientConfig);
    this.client.on('error', () => undefined); // surfaces through the active query instead
  }

  async connect(): Promise<void> {
    await this.client.connect();
  }

  /** A slot for the pgoutput plugin, and the snapshot of what committed before it (EXPORT_SNAPSHOT). */
  async createSlot(slot: string): Promise<CreatedSlot> {
    const { rows } = await this.client.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${identifier(slot)} LOGICAL pgoutput EXPORT_SNAPSHOT`,
    );
    const row = rows[0];
    if (!row) throw new Error(`CREATE_REPLICATION_SLOT ${slot} returned nothing`);
    return { consistentPoint: parseLsn(row.consistent_point), snapshotName: row.snapshot_name };
  }

  /**
   * Streams the slot's changes to the tables of `publication` from where the slot was last
   * confirmed, as pgoutput protocol 1 messages, to `onMessage` in order.
   */
  stream(
    slot: string,
    publication: string,
    onMessage: (message: ReplicationMessage) => void,
  ): ReplicationStream {
    let query: StartReplication | undefined;
    const ended = new Promise<void>((resolve, reject) => {
      query = new StartReplication(
        `START_REPLICATION SLOT ${identifier(slot)} LOGICAL 0/0 ` +
          `(proto_version '1', publication_names '${identifier(publication)}')`,
        onMessage,
        (error) => {
          if (error && !this.closing) reject(error);
          else if (!this.closing) reject(new Error('the server ended the replication stream'));
          else resolve();
        },
      );
      void this.client.query(query as never);
    });
    const connection = () => {
      const live = query?.connection;
      if (!live) throw new Error('the replication stream has not started');
      return live;
    };
    return {
      confirm: (lsn, replyRequested = false) => {
        connection().sendCopyFromChunk(standbyStatusUpdate(lsn, Date.now(), replyRequested));
      },
      pause: () => {
        connection().stream.pause();
      },
      resume: () => {
        connection().stream.resume();
      },
      ended,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.client.end().catch(() => undefined);
  }
}
