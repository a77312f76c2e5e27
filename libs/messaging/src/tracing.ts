// How a trace crosses Kafka (docs/decisions.md, Tracing; W3C traceparent in the headers). One order is one
// trace: the relay's publish of each message is a PRODUCER span, child of the context recorded
// with the event (its metadata's traceparent, from the HTTP request or the message that caused
// it), and each consumer's handling is a CONSUMER span, child of the publish. Child spans rather
// than links: a message has exactly one cause, and a trace per order is what an operator opens.
// Batches (the relay's, a projection's chunk) get a span per message, not one span per batch.
// With no SDK started these are no-ops, and the traceparent recorded is the request's own.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Attributes,
  type Context,
  type Span,
} from '@opentelemetry/api';

export const tracer = trace.getTracer('es-cqrs');

/** The active context's traceparent; undefined when no span is active (or tracing is off). */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'];
}

/** The context a message's headers carry (its traceparent), or the root context. */
export function contextOf(headers: Readonly<Record<string, string | undefined>>): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

/** The traceparent of a span, for the headers of the message it sends. */
export function traceparentOf(span: Span): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier['traceparent'];
}

export function messagingAttributes(
  topic: string,
  operation: 'publish' | 'process',
  extra: Attributes = {},
): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.destination.name': topic,
    'messaging.operation.type': operation,
    ...extra,
  };
}

/** Runs `fn` inside a CONSUMER span that continues the message's trace. */
export async function consuming<T>(
  name: string,
  headers: Readonly<Record<string, string | undefined>>,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes }, contextOf(headers));
  try {
    return await context.with(trace.setSpan(contextOf(headers), span), () => fn(span));
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    span.end();
  }
}
