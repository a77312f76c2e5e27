// What an append asks to publish: a message written to the outbox in the append's own
// statement, so that it exists exactly when the append's effect does. The relay (relay.ts)
// publishes the outbox in commit order.

/** A message to publish, written to the outbox in the append's transaction. */
export type OutboxMessage =
  | {
      /** Publishes the appended event at this index (0-based) as its envelope. */
      readonly eventIndex: number;
      readonly topic: string;
      readonly headers?: Record<string, string>;
    }
  | {
      readonly topic: string;
      readonly key: string;
      readonly messageId: string;
      readonly headers?: Record<string, string>;
      readonly payload: unknown;
    };

/**
 * The relay holds this advisory lock (two-key form, so it never meets a one-key lock) while it
 * sleeps for a notification (relay.ts). An append that writes outbox rows tries to take it
 * shared, held until its commit: if it cannot, the relay sleeps and the append notifies.
 * Reading a flag from a table instead cost about 9 us of server CPU per append; the try costs
 * 0 to 5, within the measurement's noise (docs/event-store.md).
 */
export const OUTBOX_WAKE_LOCK = '1163087703, 1';
