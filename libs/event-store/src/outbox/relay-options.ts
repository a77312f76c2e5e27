// What both relays are to the service that runs one (relay.ts polls the outbox table,
// decoding-relay.ts reads it from the write-ahead log), and the options they share; what they
// share in code is in leading-relay.ts.
import type { Meter } from '@opentelemetry/api';
import type { EventRegistry } from '../upcasting/registry';

export interface Relay {
  readonly isLeader: boolean;
  start(): void;
  /** Finishes the batch in flight (published and confirmed), then releases the lead. */
  stop(): Promise<void>;
  /**
   * Waits, at most `timeoutMs`, until every outbox row committed so far is published, when this
   * instance leads (another leader publishes otherwise). For a graceful shutdown; says whether
   * it got there.
   */
  drain(timeoutMs: number): Promise<boolean>;
}

export interface RelayOptions {
  /** Names the lock and the metrics; one name per database. */
  readonly name: string;
  /** Upcasts events as they are published (the relay is one of the store's read paths). */
  readonly registry: EventRegistry;
  readonly batchSize?: number;
  /** How often a follower tries to take the lead. */
  readonly leaderRetryMs?: number;
  /** Published rows older than this are deleted. */
  readonly retentionMs?: number;
  readonly purgeIntervalMs?: number;
  readonly meter?: Meter;
  /** Where failures go (the relay retries them); a JSON line on stderr by default. */
  readonly onError?: (error: unknown) => void;
}
