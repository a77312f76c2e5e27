// An event as it is published: its message value and headers.
import type { EventMetadata, RecordedEvent } from '../store/types';

/** The headers every message carries for tracing and correlation (docs/architecture.md, One envelope). */
export function metadataHeaders(metadata: EventMetadata): Record<string, string> {
  return {
    'correlation-id': metadata.correlationId,
    ...(metadata.causationId ? { 'causation-id': metadata.causationId } : {}),
    ...(metadata.traceparent ? { traceparent: metadata.traceparent } : {}),
  };
}

/** An event as published: its message value and headers. */
export function eventMessage(event: RecordedEvent): {
  payload: unknown;
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
