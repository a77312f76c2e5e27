// The wire contract, defined once: what a message is on Kafka (its key, its headers, its
// payload and ids), how an event becomes one (the relay), and how a consumer reads one back
// (the inbox consumer, the projection runner, the saga). docs/architecture.md, One envelope.
//
// Every message has a key (the stream id of the aggregate or saga it concerns: one key, one
// partition, one order) and a `message-id` header (consumers deduplicate by it), and carries
// the correlation, causation and trace ids of what caused it. An event's message also says
// its type, schema and stream versions and global position in headers, and its payload is
// the event's envelope below.
import { z } from '@es/schema';

/** Carried by every event and message: who and what caused it, and its trace. */
export type EventMetadata = {
  readonly correlationId: string;
  readonly causationId: string | null;
  readonly traceparent?: string;
  /** Who asked: the verified principal's subject (a command over HTTP), or a component. */
  readonly actor?: string;
  /** The verified principal of an HTTP command: its subject, client and roles. */
  readonly principal?: {
    readonly subject: string;
    readonly client?: string;
    readonly roles: readonly string[];
  };
  readonly idempotencyKey?: string;
};

/** A stream as one string, `<type>/<id>`: locks, caches, version guards, consistency tokens. */
export const streamKey = (stream: { readonly type: string; readonly id: string }): string =>
  `${stream.type}/${stream.id}`;

/** A message on its way to the broker. */
export interface OutboundMessage {
  readonly topic: string;
  readonly key: string;
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: unknown;
}

/** Port to the broker: resolves once every message is acknowledged, order kept per key. */
export interface MessagePublisher {
  publish(batch: readonly OutboundMessage[]): Promise<void>;
}

/** The event as its message's payload: everything a reader needs, the data upcast. */
export interface EventEnvelope {
  readonly eventId: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly streamType: string;
  readonly streamId: string;
  readonly streamVersion: number;
  /** Decimal: positions outgrow Number.MAX_SAFE_INTEGER in long-lived stores. */
  readonly globalPosition: string;
  readonly recordedAt: string;
  readonly data: unknown;
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** The envelope as a reader checks it (an event of its own contract then checks `data`). */
export const eventEnvelopeSchema = z.object({
  eventId: z.string().min(1),
  type: z.string().min(1),
  schemaVersion: z.number().int().positive(),
  streamType: z.string().min(1),
  streamId: z.string().min(1),
  streamVersion: z.number().int().positive(),
  globalPosition: z.string().regex(/^[0-9]+$/),
  recordedAt: z.string().min(1),
  data: z.unknown(),
  metadata: z.record(z.string(), z.unknown()),
});

/** What an event is to the envelope (an event store's recorded event is one). */
export type EnvelopedEvent = Omit<EventEnvelope, 'globalPosition' | 'recordedAt' | 'metadata'> & {
  readonly globalPosition: bigint;
  readonly recordedAt: Date;
  readonly metadata: EventMetadata;
};

/** The headers every message carries for tracing and correlation. */
export function metadataHeaders(metadata: EventMetadata): Record<string, string> {
  return {
    'correlation-id': metadata.correlationId,
    ...(metadata.causationId ? { 'causation-id': metadata.causationId } : {}),
    ...(metadata.traceparent ? { traceparent: metadata.traceparent } : {}),
  };
}

/** An event as published: its message value and headers (the message id is the event's id). */
export function eventMessage(event: EnvelopedEvent): {
  payload: EventEnvelope;
  headers: Record<string, string>;
} {
  return {
    payload: {
      eventId: event.eventId,
      type: event.type,
      schemaVersion: event.schemaVersion,
      streamType: event.streamType,
      streamId: event.streamId,
      streamVersion: event.streamVersion,
      globalPosition: event.globalPosition.toString(),
      recordedAt: event.recordedAt.toISOString(),
      data: event.data,
      metadata: event.metadata,
    },
    headers: {
      ...metadataHeaders(event.metadata),
      'event-type': event.type,
      'schema-version': String(event.schemaVersion),
      'stream-version': String(event.streamVersion),
      'global-position': event.globalPosition.toString(),
    },
  };
}
