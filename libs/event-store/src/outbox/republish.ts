// The event store as the source of truth, in practice: its events published again, as the relay
// published them the first time (the same key, the message id that is the event's id, the same
// headers, the envelope upcast to the current schema), so a consumer that handled one already
// dedupes it (inbox, version guards) and one that never saw it handles it. The outbox is purged
// after its retention; the events are not, so this is how a topic that lost messages (retention,
// a truncation, a consumer whose offsets moved past them) is given them back.
//
// The messages are written to the outbox as payload rows, in the store's own transactions (an
// event's message is otherwise built from the event row its outbox row was written with), so the
// relay publishes them in its commit order like any other.
import type { EventMetadata } from '@es/messaging';
import { eventMessage } from '@es/messaging';
import { MAX_OUTBOX_PER_APPEND } from '../append/append-statement';
import type { PostgresEventStore } from '../store/event-store';
import type { AllCheckpoint, RecordedEvent, StreamRef } from '../store/types';
import type { OutboxMessage } from './outbox-message';

export interface RepublishOptions {
  /** The topic of a stream type's events (the aggregate's `topic`); undefined: not republished. */
  readonly topicOf: (streamType: string) => string | undefined;
  /** Who asks, carried by the append that writes the outbox rows (not by the messages). */
  readonly metadata: EventMetadata;
  /** Headers added to every message, e.g. `republished-by`. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Marks (consumer, messageId) handled in the same transaction: a republish that must happen
   * once (the verdict sweep's nudge) is an AlreadyHandledError the second time.
   */
  readonly inbox?: { readonly consumer: string; readonly messageId: string };
}

/** The message of a recorded event as the relay publishes it. */
export function republished(
  event: RecordedEvent,
  topic: string,
  headers: Readonly<Record<string, string>> = {},
): OutboxMessage {
  const message = eventMessage(event);
  return {
    topic,
    key: event.streamId,
    messageId: event.eventId,
    headers: { ...message.headers, ...headers },
    payload: message.payload,
  };
}

/** Writes the events' messages to the outbox, at most MAX_OUTBOX_PER_APPEND a transaction. */
async function write(
  store: PostgresEventStore,
  events: readonly RecordedEvent[],
  options: RepublishOptions,
): Promise<number> {
  const messages = events.flatMap((e) => {
    const topic = options.topicOf(e.streamType);
    return topic ? [republished(e, topic, options.headers)] : [];
  });
  const chunks: OutboxMessage[][] = [];
  for (let i = 0; i < messages.length; i += MAX_OUTBOX_PER_APPEND)
    chunks.push(messages.slice(i, i + MAX_OUTBOX_PER_APPEND));
  // Nothing to publish but a mark to write: the mark alone (the republish happened, empty).
  if (chunks.length === 0 && options.inbox) chunks.push([]);
  for (const [n, outbox] of chunks.entries()) {
    const inbox = n === 0 && options.inbox;
    await store.append({ type: '$republish', id: options.metadata.causationId ?? 'all' }, [], {
      expectedVersion: 'any',
      metadata: options.metadata,
      outbox,
      ...(inbox ? { inbox: { ...inbox, result: { republished: messages.length } } } : {}),
    });
  }
  return messages.length;
}

/** A stream's events, from `fromVersion` to `toVersion` (both included, all by default). */
export async function republishStream(
  store: PostgresEventStore,
  stream: StreamRef,
  range: { readonly fromVersion?: number; readonly toVersion?: number },
  options: RepublishOptions,
): Promise<number> {
  const events = await store.readStream(stream, {
    ...(range.fromVersion === undefined ? {} : { afterVersion: range.fromVersion - 1 }),
    ...(range.toVersion === undefined ? {} : { toVersion: range.toVersion }),
  });
  return write(store, events, options);
}

/**
 * Every event of the store after `after`, in commit order, `batch` at a time; `onBatch` is told
 * where it got to (a republish interrupted goes on from there: the messages are deduplicated).
 */
export async function republishAll(
  store: PostgresEventStore,
  options: RepublishOptions & {
    readonly after?: AllCheckpoint;
    readonly batch?: number;
    readonly onBatch?: (checkpoint: AllCheckpoint, republished: number) => void;
  },
): Promise<{ events: number; checkpoint: AllCheckpoint }> {
  let checkpoint = options.after ?? { transactionId: 0n, position: 0n };
  let total = 0;
  for (;;) {
    const read = await store.readAll(checkpoint, options.batch ?? MAX_OUTBOX_PER_APPEND);
    if (read.events.length === 0) return { events: total, checkpoint };
    total += await write(store, read.events, options);
    checkpoint = read.checkpoint;
    options.onBatch?.(checkpoint, total);
  }
}
