// What both relays share (relay.ts polls the table, decoding-relay.ts reads the WAL): one loop
// that runs a step until stopped, dropping its connections and pausing after a failure; the
// lead of a database, taken under one advisory lock on the relay's own connection (so losing
// the connection loses the lead at once, and two modes never lead one database together); the
// purge of published rows on a schedule; a sleep that stop() or a wake-up cuts short.
import type { Client, ClientConfig } from 'pg';
import type { MessagePublisher } from '@es/messaging';
import { purgePublished } from './outbox-table';
import { relayMetrics, type RelayMetrics } from './relay-metrics';
import type { Relay, RelayOptions } from './relay-options';

const logToStderr = (name: string) => (error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(
    `${JSON.stringify({ level: 'error', context: `outbox-relay:${name}`, message })}\n`,
  );
};

export abstract class LeadingRelay<O extends RelayOptions> implements Relay {
  /** The connection that holds the lead (or tries to take it). */
  protected client: Client | undefined;
  protected leader = false;
  protected stopping = false;
  /** Resolves the sleep in progress. */
  protected wake: (() => void) | undefined;
  /** A wake-up came while the relay was busy: the next sleep returns at once. */
  protected notified = false;
  private loop: Promise<void> | undefined;
  private lastPurge = 0;
  protected readonly batchSize: number;
  protected readonly onError: (error: unknown) => void;
  protected readonly metrics: RelayMetrics;

  constructor(
    protected readonly connection: ClientConfig,
    protected readonly publisher: MessagePublisher,
    protected readonly options: O,
  ) {
    this.batchSize = options.batchSize ?? 500;
    this.onError = options.onError ?? logToStderr(options.name);
    this.metrics = relayMetrics(options.meter, options.name, {
      isLeader: () => this.leader,
      connection: () => this.client,
    });
  }

  get isLeader(): boolean {
    return this.leader;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  abstract drain(timeoutMs: number): Promise<boolean>;

  /** One turn of the loop: lead (or wait to), then publish; throws to drop the connections and pause. */
  protected abstract step(): Promise<void>;

  /** Ends the relay's connections; the lead goes with them. */
  protected abstract dropConnection(): Promise<void>;

  /** Read again after each await (a property read is narrowed by the compiler as if it could not change). */
  protected leading(): boolean {
    return this.leader;
  }

  protected stopRequested(): boolean {
    return this.stopping;
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step();
      } catch (error) {
        // Closing the connections to stop can fail what was running on them: not an error.
        if (!this.stopRequested()) this.onError(error);
        await this.dropConnection();
        await this.sleepUnlessWoken(1_000);
      }
    }
    await this.dropConnection();
  }

  /** Takes the lead if no other instance holds it; otherwise waits leaderRetryMs and says false. */
  protected async takeLead(client: Client): Promise<boolean> {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock(hashtext($1)) AS locked',
      [`es:outbox-relay:${this.options.name}`],
    );
    this.leader = rows[0]?.locked === true;
    if (!this.leader) await this.sleepUnlessWoken(this.options.leaderRetryMs ?? 2_000);
    return this.leader;
  }

  /** Deletes published rows older than the retention, once per purge interval. */
  protected async purgeIfDue(client: Client): Promise<void> {
    const every = this.options.purgeIntervalMs ?? 60_000;
    if (Date.now() - this.lastPurge < every) return;
    this.lastPurge = Date.now();
    await purgePublished(client, this.options.retentionMs ?? 3_600_000);
  }

  protected async sleepUnlessWoken(ms: number): Promise<void> {
    if (this.stopping || this.notified) {
      this.notified = false;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.wake = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.wake = undefined;
    this.notified = false;
  }
}
