// Which relay a service runs (OUTBOX_RELAY_MODE, runtime-config): `decoding` (the default: the outbox read from logical decoding,
// decoding-relay.ts) or `polling` (the table read behind the xmin horizon, relay.ts), for a
// PostgreSQL that does not allow replication connections (some managed offerings). The
// polling relay waits for the oldest transaction running anywhere in the cluster
// (docs/event-store.md, Relay).
import type { ClientConfig } from 'pg';
import type { MessagePublisher } from '@es/messaging';
import { DecodingRelay, type DecodingRelayOptions } from './decoding-relay';
import { OutboxRelay, type OutboxRelayOptions } from './relay';
import type { Relay } from './relay-options';

export const RELAY_MODES = ['decoding', 'polling'] as const;
export type RelayMode = (typeof RELAY_MODES)[number];

export function createRelay(
  mode: RelayMode,
  connection: ClientConfig,
  publisher: MessagePublisher,
  options: OutboxRelayOptions & DecodingRelayOptions,
): Relay {
  return mode === 'decoding'
    ? new DecodingRelay(connection, publisher, options)
    : new OutboxRelay(connection, publisher, options);
}
