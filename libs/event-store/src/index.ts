export * from './append/prepare-append';
export * from './handler/aggregate';
export * from './handler/command-handler';
export * from './handler/decision';
export * from './handler/on-stream';
export * from './handler/unit-of-work';
export * from './inbox/idempotency-keys';
export * from './inbox/postgres-dead-letters';
export * from './inbox/postgres-inbox';
export * from './outbox/outbox-message';
export * from './outbox/relay';
export { outboxBacklog } from './outbox/outbox-table';
export * from './read/event-row';
export type { ReadStreamOptions } from './read/read-stream';
export * from './snapshots/snapshots';
export * from './store/consistency-token';
export * from './store/errors';
export * from './store/event-store';
export * from './store/schema';
export * from './store/types';
export * from './store/uuid';
export * from './upcasting/registry';
export * from './outbox/relay-options';
export {
  DecodingRelay,
  OUTBOX_PUBLICATION,
  slotName,
  type DecodingRelayOptions,
} from './outbox/decoding-relay';
export * from './outbox/relay-mode';
export * from './outbox/republish';
export * from './privacy/personal-data';
