// A unit of work as the command handler appends it: the context a command is handled in (its
// metadata, inbox entry, expected version and further messages), what the inbox keeps of a
// handled command so that a retry is answered the same way, and how a unit's decided streams
// become the store's appends.
import type { EventMetadata } from '@es/messaging';
import { streamKey } from '@es/messaging';
import type { AppendItem } from '../append/prepare-append';
import type { OutboxMessage } from '../outbox/outbox-message';
import { IdempotencyKeyReusedError } from '../store/errors';
import { uuidv7 } from '../store/uuid';
import type { AppendPlan } from './on-stream';

export interface InboxContext {
  readonly consumer: string;
  readonly messageId: string;
  /**
   * What the message or request was (a hash of its content). A key seen before with another
   * fingerprint is refused (IdempotencyKeyReusedError) rather than answered with the first result.
   */
  readonly fingerprint?: string;
}

export interface HandleContext {
  readonly metadata: EventMetadata;
  /** Refuse (ConcurrencyError) unless the stream is at this version (HTTP If-Match); no retry then. */
  readonly expectedVersion?: number;
  /** Deduplicate: a (consumer, messageId) seen before returns its first result and writes nothing. */
  readonly inbox?: InboxContext;
  /**
   * Further messages written with the unit of work, in the same transaction (a saga
   * participant's reply): sent exactly when the effect happens.
   */
  readonly outbox?: readonly OutboxMessage[];
}

export interface StreamResult {
  readonly streamType: string;
  readonly streamId: string;
  /** The stream's version after the command: the consistency token's version. */
  readonly version: number;
  readonly eventIds: readonly string[];
}

export interface HandleResult {
  readonly streamId: string;
  readonly version: number;
  readonly eventIds: readonly string[];
  /** True when this is the stored result of an earlier handling of the same message. */
  readonly duplicate: boolean;
}

export interface HandleAllResult {
  /** In the order the commands were given. */
  readonly streams: readonly StreamResult[];
  readonly duplicate: boolean;
}

/** What the inbox keeps of a handled command: enough to answer a retry the same way. */
export interface StoredResult {
  readonly streams: readonly StreamResult[];
  readonly fingerprint?: string;
}

/** The inbox row of a handled message: its id, and the streams its handling wrote. */
export function inboxMark(
  inbox: InboxContext,
  streams: readonly StreamResult[],
): { consumer: string; messageId: string; result: StoredResult } {
  const result: StoredResult = {
    streams,
    ...(inbox.fingerprint === undefined ? {} : { fingerprint: inbox.fingerprint }),
  };
  return { consumer: inbox.consumer, messageId: inbox.messageId, result };
}

/** A message handled before: its first result, unless the key came back with another request. */
export function replay(inbox: InboxContext, result: unknown): HandleAllResult {
  const stored = result as StoredResult | null;
  if (
    inbox.fingerprint !== undefined &&
    stored?.fingerprint !== undefined &&
    stored.fingerprint !== inbox.fingerprint
  ) {
    throw new IdempotencyKeyReusedError(inbox.consumer, inbox.messageId);
  }
  return { streams: stored?.streams ?? [], duplicate: true };
}

/**
 * A unit's streams as appends, in stream-key order, whatever order the commands came in: two
 * processes writing overlapping streams then wait on each other's rows in the same order, never
 * in a cycle. The first append carries the inbox mark (it stops a concurrent duplicate
 * earliest) and the context's messages. Event ids are made here, not in the store, so the inbox
 * row can record them in the same statement.
 */
export function unitAppends(
  plans: readonly AppendPlan[],
  context: HandleContext,
): { results: StreamResult[]; items: AppendItem[] } {
  const results = plans.map((p): StreamResult => ({
    streamType: p.stream.type,
    streamId: p.stream.id,
    version: p.loadedVersion + p.events.length,
    eventIds: p.events.map(() => uuidv7()),
  }));
  const { inbox } = context;
  const item = (plan: AppendPlan, result: StreamResult, first: boolean): AppendItem => ({
    stream: plan.stream,
    events: plan.events,
    options: {
      expectedVersion: plan.loadedVersion,
      metadata: context.metadata,
      eventIds: result.eventIds,
      outbox: first ? [...plan.outbox, ...(context.outbox ?? [])] : plan.outbox,
      ...(inbox && first ? { inbox: inboxMark(inbox, results) } : {}),
      ...(plan.snapshot ? { snapshot: plan.snapshot } : {}),
      ...(plan.summary ? { summary: plan.summary } : {}),
    },
  });
  const items = plans
    .map((plan, i) => [plan, results[i] as StreamResult] as const)
    .sort(([a], [b]) => (streamKey(a.stream) < streamKey(b.stream) ? -1 : 1))
    .map(([plan, result], i) => item(plan, result, i === 0));
  return { results, items };
}
