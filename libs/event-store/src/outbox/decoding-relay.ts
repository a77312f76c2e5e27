// Publishes the outbox from PostgreSQL's logical decoding instead of polling the table: a
// replication slot per database, with the built-in pgoutput plugin, streams the inserts into
// the outbox and events tables (the es_outbox publication) one committed transaction at a
// time, in commit order. A transaction still open anywhere in the cluster holds nothing back
// (the polling relay reads behind the cluster-wide xmin horizon and waits for it). The relay
// publishes each transaction's outbox rows as the polling relay does (same keys, headers and
// message ids; an event's message built from its row, upcast), and confirms the slot's flush
// position past a transaction only once the broker acknowledged all of it: a crash between the
// ack and the confirmation republishes, never loses.
//
// One relay leads a database at a time, under the same advisory lock as the polling relay (so
// two modes never lead one database together); a slot streams to one connection only, and a
// stand-by takes it over when the leader's connections go.
//
// A slot that does not exist, was invalidated (it retained more WAL than
// max_slot_wal_keep_size) or was created by a relay that died before catching up is made again:
// created with an exported snapshot, every outbox row after the published mark that the
// snapshot sees (committed before the slot's first transaction) is published from the table,
// then the slot streams what follows. Nothing committed falls between the two, and the state
// row records that the slot caught up (outbox_relay_state.decoding_slot) in the same
// transaction as the mark.
//
// The published mark (outbox_relay_state), which bounds the purge and where a new slot starts,
// is kept from checkpoints: the relay samples the xmin horizon X and the WAL insert position L
// together; once the slot is confirmed past L, every transaction older than X has committed
// before L and is published, so the mark moves to (X, 0).
import { Client, types, type ClientConfig } from 'pg';
import type { MessagePublisher, OutboundMessage } from '@es/messaging';
import type { EventRow } from '../read/event-row';
import { outboxMessage, readOutbox, type OutboxColumns, type OutboxMark } from './outbox-table';
import {
  decodePgOutput,
  parseLsn,
  type Lsn,
  type Relation,
  type ReplicationMessage,
} from './decoding/pgoutput';
import { ReplicationConnection, type ReplicationStream } from './decoding/replication-connection';
import { LeadingRelay } from './leading-relay';
import type { RelayMetrics } from './relay-metrics';
import type { RelayOptions } from './relay-options';

/** The publication the store's migrations create: inserts into outbox and events. */
export const OUTBOX_PUBLICATION = 'es_outbox';

/** The slot of a database (slot names are cluster-wide: one per database, whatever the relay's name). */
export function slotName(database: string): string {
  const name = `es_outbox_${database.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`;
  return name.length <= 63 ? name : name.slice(0, 63);
}

export interface DecodingRelayOptions extends RelayOptions {
  /** How often the published mark is moved and the slot's figures read (default 1 s). */
  readonly checkpointIntervalMs?: number;
  /** Received messages not yet acknowledged beyond which the relay stops reading the stream until the broker catches up. */
  readonly maxBufferedMessages?: number;
  /** Warn when the slot can retain less than this share of max_slot_wal_keep_size before it is invalidated (default 0.2). */
  readonly walWarningShare?: number;
}

/** An outbox row as decoded, before its message is built. */
interface DecodedOutboxRow extends OutboxColumns {
  readonly event_position: string | null;
  /** Its transaction (xid8, as text). */
  readonly transaction_id: string;
}

/** A committed transaction's rows, waiting for the broker. */
interface Committed {
  readonly outbox: readonly DecodedOutboxRow[];
  readonly events: ReadonlyMap<string, EventRow>;
  readonly endLsn: Lsn;
  readonly commitTimeMs: number;
}

/** pg's parser of a type's text form (its types are keyed by an enum of the built-in oids). */
const parserOf = types.getTypeParser as unknown as (
  oid: number,
  format: 'text',
) => (value: string) => unknown;

function firstRow<T>(rows: readonly T[], what: string): T {
  const row = rows[0];
  if (!row) throw new Error(`${what} returned no row`);
  return row;
}

/** A decoded row: each column parsed by pg's parser for its type, as a query's row is. */
function rowOf(
  relation: Relation,
  values: readonly (string | null | undefined)[],
): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  relation.columns.forEach((column, i) => {
    const value = values[i];
    row[column.name] =
      value === null || value === undefined ? null : parserOf(column.typeOid, 'text')(value);
  });
  return row;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One START_REPLICATION: decodes the stream into committed transactions, publishes them in
 * order, batch by batch, and confirms each batch's end once the broker acknowledged it.
 */
class SlotStream {
  private readonly relations = new Map<number, Relation>();
  private current:
    { outbox: DecodedOutboxRow[]; events: Map<string, EventRow>; commitTimeMs: number } | undefined;
  private readonly queue: Committed[] = [];
  private buffered = 0;
  private paused = false;
  private publishing: Promise<void> | undefined;
  private closed = false;
  /** Published since the last checkpoint sample: the mark can move. */
  publishedSinceSample = false;
  /** The newest transaction whose rows were published: the mark is not past it until a sample is. */
  lastPublishedTransaction = 0n;
  readonly stream: ReplicationStream;

  constructor(
    replication: ReplicationConnection,
    slot: string,
    /** Where the slot was confirmed when it started: nothing before it is streamed. */
    public confirmed: Lsn,
    private readonly relay: {
      readonly publisher: MessagePublisher;
      readonly batchSize: number;
      readonly maxBuffered: number;
      readonly metrics: RelayMetrics;
      readonly onError: (error: unknown) => void;
      readonly messages: (rows: readonly Committed[]) => Promise<OutboundMessage[]>;
    },
  ) {
    this.stream = replication.stream(slot, OUTBOX_PUBLICATION, (m) => {
      this.onMessage(m);
    });
  }

  /** Seconds since the oldest transaction received and not yet acknowledged committed; 0 when none. */
  lagSeconds(): number {
    const oldest = this.queue[0];
    return oldest ? Math.max(0, (Date.now() - oldest.commitTimeMs) / 1000) : 0;
  }

  /** Nothing received is waiting for the broker. */
  get idle(): boolean {
    return !this.current && this.queue.length === 0 && !this.publishing;
  }

  /** Asks the server for a keepalive, which confirms the stream's end when idle. */
  poke(): void {
    this.stream.confirm(this.confirmed, true);
  }

  /** Stops after the batch in flight (if any) is published and confirmed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.publishing;
  }

  private onMessage(message: ReplicationMessage): void {
    if (message.tag === 'keepalive') {
      // Everything the server decoded before this is received; if none of it waits for the
      // broker, the slot may move up to here (WAL of other databases, transactions with no
      // outbox rows), else it would hold WAL back while this database is quiet.
      if (this.idle && message.walEnd > this.confirmed) {
        this.confirmed = message.walEnd;
        this.stream.confirm(this.confirmed);
      } else if (message.replyRequested) this.stream.confirm(this.confirmed);
      return;
    }
    const decoded = decodePgOutput(message.data);
    switch (decoded.tag) {
      case 'relation':
        this.relations.set(decoded.relation.id, decoded.relation);
        return;
      case 'begin':
        this.current = { outbox: [], events: new Map(), commitTimeMs: decoded.commitTimeMs };
        return;
      case 'insert': {
        const relation = this.relations.get(decoded.relationId);
        if (!relation)
          throw new Error(
            `pgoutput: insert into relation ${decoded.relationId} before its description`,
          );
        if (!this.current) throw new Error('pgoutput: insert outside a transaction');
        const row = rowOf(relation, decoded.values);
        if (relation.name === 'outbox')
          this.current.outbox.push(row as unknown as DecodedOutboxRow);
        else if (relation.name === 'events') {
          const event = row as unknown as EventRow;
          this.current.events.set(event.global_position, event);
        }
        return;
      }
      case 'commit': {
        const current = this.current;
        this.current = undefined;
        if (!current) throw new Error('pgoutput: commit outside a transaction');
        this.queue.push({
          ...current,
          events: current.outbox.length > 0 ? current.events : new Map(),
          endLsn: decoded.endLsn,
        });
        this.buffered += current.outbox.length;
        if (this.buffered > this.relay.maxBuffered && !this.paused) {
          this.paused = true;
          this.stream.pause();
        }
        this.publishing ??= this.publishQueue().finally(() => {
          this.publishing = undefined;
        });
        return;
      }
      case 'other':
        return;
    }
  }

  /** Takes whole transactions up to batchSize messages (at least one transaction). */
  private async publishQueue(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const batch: Committed[] = [];
      let count = 0;
      for (const transaction of this.queue) {
        if (batch.length > 0 && count + transaction.outbox.length > this.relay.batchSize) break;
        batch.push(transaction);
        count += transaction.outbox.length;
      }
      const taken = batch.length;
      const messages = await this.relay.messages(batch);
      for (let at = 0; at < messages.length; at += this.relay.batchSize)
        if (!(await this.publishUntilAcked(messages.slice(at, at + this.relay.batchSize)))) return;
      this.queue.splice(0, taken);
      this.buffered -= count;
      this.confirmed = batch[taken - 1]?.endLsn ?? this.confirmed;
      this.stream.confirm(this.confirmed);
      if (messages.length > 0) {
        this.publishedSinceSample = true;
        for (const t of batch)
          for (const row of t.outbox) {
            const xid = BigInt(row.transaction_id);
            if (xid > this.lastPublishedTransaction) this.lastPublishedTransaction = xid;
          }
        const now = Date.now();
        this.relay.metrics.published(
          batch.flatMap((t) => t.outbox.map(() => Math.max(0, (now - t.commitTimeMs) / 1000))),
        );
      }
      if (this.paused && this.buffered <= this.relay.maxBuffered / 2) {
        this.paused = false;
        this.stream.resume();
      }
    }
  }

  /**
   * The broker down: the batch is retried with back-off (the slot holds the rest) until it is
   * acknowledged (true) or the stream closes (false: nothing of it is confirmed).
   */
  private async publishUntilAcked(messages: readonly OutboundMessage[]): Promise<boolean> {
    let delay = 100;
    for (;;) {
      try {
        await this.relay.publisher.publish(messages);
        return true;
      } catch (error) {
        if (this.closed) return false;
        this.relay.onError(error);
        await sleep(delay);
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }
}

export class DecodingRelay extends LeadingRelay<DecodingRelayOptions> {
  private replication: ReplicationConnection | undefined;
  private slotStream: SlotStream | undefined;
  private slot: string | undefined;
  private lastWalWarning = 0;
  /** A checkpoint sample: the xmin horizon and the WAL insert position, read together. */
  private sample: { xmin: string; lsn: Lsn } | undefined;

  constructor(
    connection: ClientConfig,
    publisher: MessagePublisher,
    options: DecodingRelayOptions,
  ) {
    super(connection, publisher, options);
    const meter = options.meter;
    const attributes = { relay: options.name };
    const lagBytes = meter?.createObservableGauge('outbox_slot_lag_bytes', {
      description: 'WAL written since the position the replication slot was confirmed at',
      unit: 'By',
    });
    const safeBytes = meter?.createObservableGauge('outbox_slot_safe_wal_bytes', {
      description:
        'WAL that can still be written before the slot is invalidated (max_slot_wal_keep_size)',
      unit: 'By',
    });
    meter
      ?.createObservableGauge('outbox_slot_lag_seconds', {
        description:
          'Since the oldest transaction received from the slot and not yet acknowledged committed',
        unit: 's',
      })
      .addCallback((r) => {
        if (this.leader && this.slotStream) r.observe(this.slotStream.lagSeconds(), attributes);
      });
    if (meter && lagBytes && safeBytes)
      meter.addBatchObservableCallback(
        async (result) => {
          const figures = await this.slotFigures().catch(() => undefined);
          if (!figures) return;
          result.observe(lagBytes, figures.lagBytes, attributes);
          if (figures.safeBytes !== null) result.observe(safeBytes, figures.safeBytes, attributes);
        },
        [lagBytes, safeBytes],
      );
  }

  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    const client = this.client;
    if (!this.leader || !client) return false;
    const target = await client
      .query<{ lsn: string }>('SELECT pg_current_wal_flush_lsn()::text AS lsn')
      .then((r) => parseLsn(firstRow(r.rows, 'pg_current_wal_flush_lsn()').lsn))
      .catch(() => undefined);
    if (target === undefined) return false;
    for (;;) {
      const stream = this.slotStream;
      if (!this.leading() || !stream) return false;
      if (stream.confirmed >= target) return true;
      if (Date.now() >= deadline) return false;
      if (stream.idle) stream.poke();
      await sleep(20);
    }
  }

  /** The slot's lag and headroom, from the leader's connection. */
  private async slotFigures(): Promise<
    { lagBytes: number; safeBytes: number | null; walStatus: string; maxKeep: number } | undefined
  > {
    const client = this.leader ? this.client : undefined;
    if (!client || !this.slot) return undefined;
    const { rows } = await client.query<{
      lag: string | null;
      safe: string | null;
      status: string;
      max_keep: string;
    }>({
      name: 'outbox_slot_figures',
      text: `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag, safe_wal_size::text AS safe,
                    wal_status AS status, pg_size_bytes(current_setting('max_slot_wal_keep_size'))::text AS max_keep
             FROM pg_replication_slots WHERE slot_name = $1`,
      values: [this.slot],
    });
    const row = rows[0];
    if (!row) return undefined;
    return {
      lagBytes: Number(row.lag ?? 0),
      safeBytes: row.safe === null ? null : Number(row.safe),
      walStatus: row.status,
      maxKeep: Number(row.max_keep),
    };
  }

  /** Takes the lead, makes sure the slot caught up, then streams until stopped or failed. */
  protected async step(): Promise<void> {
    const client = await this.connect();
    if (!this.leader && !(await this.takeLead(client))) return;
    const { rows } = await client.query<{ database: string }>(
      'SELECT current_database() AS database',
    );
    const slot = slotName(firstRow(rows, 'current_database()').database);
    this.slot = slot;
    const replication = new ReplicationConnection(
      this.connection,
      `outbox-relay:${this.options.name}`,
    );
    this.replication = replication;
    await replication.connect();
    await this.catchUpUnlessSynced(client, replication, slot);
    const confirmed = await client.query<{ lsn: string }>(
      'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    const stream = new SlotStream(
      replication,
      slot,
      parseLsn(firstRow(confirmed.rows, `slot ${slot}`).lsn),
      {
        publisher: this.publisher,
        batchSize: this.batchSize,
        maxBuffered: this.options.maxBufferedMessages ?? 20_000,
        metrics: this.metrics,
        onError: this.onError,
        messages: (batch) => this.messagesOf(client, batch),
      },
    );
    this.slotStream = stream;
    const outcome: { ended: boolean; failure?: Error } = { ended: false };
    stream.stream.ended.then(
      () => {
        outcome.ended = true;
      },
      (error: unknown) => {
        outcome.ended = true;
        outcome.failure = error instanceof Error ? error : new Error(String(error));
        this.wake?.();
      },
    );
    for (;;) {
      await this.sleepUnlessWoken(this.options.checkpointIntervalMs ?? 1_000);
      if (this.stopRequested() || outcome.ended) break;
      await this.checkpoint(client, stream);
      await this.purgeIfDue(client);
    }
    await stream.close();
    if (outcome.failure) throw outcome.failure;
  }

  /**
   * Unless the state row says this slot caught up: (re)creates the slot and publishes, from the
   * table, what committed before it and after the mark.
   */
  private async catchUpUnlessSynced(
    client: Client,
    replication: ReplicationConnection,
    slot: string,
  ): Promise<void> {
    const state = await client.query<{ decoding_slot: string | null }>(
      'SELECT decoding_slot FROM outbox_relay_state WHERE id = 1',
    );
    if (!state.rows[0]) throw new Error('outbox_relay_state has no row: was the schema migrated?');
    const existing = await client.query<{ wal_status: string | null; active_pid: number | null }>(
      'SELECT wal_status, active_pid FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    const found = existing.rows[0];
    if (found && found.wal_status !== 'lost' && state.rows[0].decoding_slot === slot) return;
    if (found)
      this.onError(
        new Error(
          found.wal_status === 'lost'
            ? `replication slot ${slot} was invalidated (it retained more than max_slot_wal_keep_size): re-created, republishing from the outbox after the published mark`
            : `replication slot ${slot} never caught up (its relay stopped first): re-created`,
        ),
      );
    await client.query('UPDATE outbox_relay_state SET decoding_slot = NULL WHERE id = 1');
    if (found) await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    const created = await replication.createSlot(slot);
    if (!/^[0-9A-F-]+$/i.test(created.snapshotName))
      throw new Error(`unexpected snapshot name ${created.snapshotName}`);
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    try {
      await client.query(`SET TRANSACTION SNAPSHOT '${created.snapshotName}'`);
      const marked = await client.query<OutboxMark>(
        `SELECT published_transaction_id::text AS "transactionId", published_id::text AS id
         FROM outbox_relay_state WHERE id = 1`,
      );
      let mark: OutboxMark | undefined = firstRow(marked.rows, 'outbox_relay_state');
      while (mark) {
        const batch = await readOutbox(client, this.options.registry, mark, this.batchSize, false);
        if (batch.messages.length > 0) await this.publisher.publish(batch.messages);
        this.metrics.published(batch.ageMs.map((age) => age / 1000));
        mark = batch.last;
      }
      // Every transaction older than the snapshot's horizon had ended when it was taken, so
      // the committed ones were in it: published.
      const horizon = await client.query<{ xmin: string }>(
        'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin',
      );
      await this.moveMark(client, firstRow(horizon.rows, 'the horizon').xmin);
      await client.query('UPDATE outbox_relay_state SET decoding_slot = $1 WHERE id = 1', [slot]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  private async moveMark(client: Client, xmin: string): Promise<void> {
    await client.query({
      name: 'outbox_decoding_mark',
      text: `UPDATE outbox_relay_state SET published_transaction_id = $1::text::xid8, published_id = 0, published_at = now()
             WHERE id = 1 AND (published_transaction_id, published_id) < ($1::text::xid8, 0)`,
      values: [xmin],
    });
  }

  /** The messages of a batch of transactions, in order; an event not in its transaction's rows is read from the table. */
  private async messagesOf(
    client: Client,
    batch: readonly Committed[],
  ): Promise<OutboundMessage[]> {
    const missing = batch.flatMap((t) =>
      t.outbox.flatMap((o) =>
        o.event_position !== null && !t.events.has(o.event_position) ? [o.event_position] : [],
      ),
    );
    const fetched = new Map<string, EventRow>();
    if (missing.length > 0) {
      const { rows } = await client.query<EventRow>(
        `SELECT global_position::text AS global_position, stream_type, stream_id, stream_version, event_id, event_type,
                schema_version, data, metadata, recorded_at, transaction_id::text AS transaction_id
         FROM events WHERE global_position = ANY($1::bigint[])`,
        [missing],
      );
      for (const row of rows) fetched.set(row.global_position, row);
    }
    return batch.flatMap((t) =>
      t.outbox.map((o) => {
        if (o.event_position === null) return outboxMessage(o, undefined, this.options.registry);
        const event = t.events.get(o.event_position) ?? fetched.get(o.event_position);
        if (!event)
          throw new Error(
            `outbox row ${o.message_id} points at event ${o.event_position}, which does not exist`,
          );
        return outboxMessage(o, event, this.options.registry);
      }),
    );
  }

  /** Moves the mark to the previous sample once the slot is confirmed past it; takes a new sample after publishing. */
  private async checkpoint(client: Client, stream: SlotStream): Promise<void> {
    const sample = this.sample;
    if (sample && stream.confirmed >= sample.lsn) {
      await this.moveMark(client, sample.xmin);
      this.sample = undefined;
      // A transaction older than what was published was still running at the sample (its
      // horizon held back), so the mark is not past the published rows yet: sample again, or an
      // idle store would leave it there (a republish waiting for its rows to be marked would
      // wait until the next write).
      if (BigInt(sample.xmin) <= stream.lastPublishedTransaction)
        stream.publishedSinceSample = true;
    } else if (sample && stream.idle) stream.poke();
    if (!this.sample && stream.publishedSinceSample) {
      stream.publishedSinceSample = false;
      const { rows } = await client.query<{ xmin: string; lsn: string }>({
        name: 'outbox_decoding_sample',
        text: `SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin, pg_current_wal_insert_lsn()::text AS lsn`,
      });
      const row = firstRow(rows, 'the checkpoint sample');
      this.sample = { xmin: row.xmin, lsn: parseLsn(row.lsn) };
    }
    await this.warnIfWalRunsOut();
  }

  /** The alarm before max_slot_wal_keep_size invalidates the slot: a log line at most once a minute. */
  private async warnIfWalRunsOut(): Promise<void> {
    if (Date.now() - this.lastWalWarning < 60_000) return;
    const figures = await this.slotFigures();
    if (!figures || figures.safeBytes === null || figures.maxKeep <= 0) return;
    if (figures.safeBytes > figures.maxKeep * (this.options.walWarningShare ?? 0.2)) return;
    this.lastWalWarning = Date.now();
    this.onError(
      new Error(
        `replication slot ${this.slot} is ${figures.lagBytes} bytes behind; ${figures.safeBytes} bytes of WAL left before it is invalidated (max_slot_wal_keep_size), wal_status ${figures.walStatus}`,
      ),
    );
  }

  private async connect(): Promise<Client> {
    if (this.client) return this.client;
    const client = new Client({
      ...this.connection,
      application_name: `outbox-relay:${this.options.name}`,
    });
    client.on('error', (error) => {
      this.onError(error);
      this.wake?.();
    });
    await client.connect();
    this.client = client;
    return client;
  }

  protected async dropConnection(): Promise<void> {
    const client = this.client;
    const replication = this.replication;
    this.client = undefined;
    this.replication = undefined;
    this.slotStream = undefined;
    this.sample = undefined;
    this.leader = false; // the session's advisory lock goes with its connection
    await replication?.close();
    await client?.end().catch(() => undefined);
  }
}
