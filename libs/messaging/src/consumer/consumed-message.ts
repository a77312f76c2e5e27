// A Kafka message as a consumer reads it: its place in the log, its key, its headers as text,
// its id, and its payload parsed as JSON (or its raw text when it is not JSON: poison).
import type { KafkaMessage } from 'kafkajs';
import type { EventMetadata } from '../envelope/envelope';
import { currentTraceparent } from '../tracing';

export interface ConsumedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: unknown;
}

/** A Kafka message's headers as text (the first value of a repeated header). */
export function headersOf(message: Pick<KafkaMessage, 'headers'>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined)
      headers[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return headers;
}

export function decodeMessage(
  topic: string,
  partition: number,
  message: KafkaMessage,
): ConsumedMessage {
  const headers = headersOf(message);
  const raw = message.value?.toString() ?? '';
  const base = {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString() ?? null,
    headers,
  };
  // A message without an id cannot be deduplicated: identify it by its place in the log.
  const messageId = headers['message-id'] ?? `${topic}/${partition}/${message.offset}`;
  try {
    return { ...base, messageId, payload: JSON.parse(raw) as unknown };
  } catch {
    return { ...base, messageId, payload: raw };
  }
}

/**
 * The metadata of what a message causes: its correlation and trace go on, it is the cause. The
 * trace is the handling span's when tracing is on (so what it writes is a child of it), else
 * the message's own traceparent.
 */
export function metadataOf(message: ConsumedMessage, actor?: string): EventMetadata {
  const traceparent = currentTraceparent() ?? message.headers['traceparent'];
  return {
    correlationId: message.headers['correlation-id'] ?? message.messageId,
    causationId: message.messageId,
    ...(traceparent ? { traceparent } : {}),
    ...(actor ? { actor } : {}),
  };
}
