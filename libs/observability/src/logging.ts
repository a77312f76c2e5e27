// Structured logs: one JSON line per entry on stdout (pino), each with the service, the trace
// and span ids of the active span (when tracing is on), and the correlation and causation ids
// of the request or message being handled (logContext, set by the HTTP edge and the consumers).
import { AsyncLocalStorage } from 'node:async_hooks';
import { trace } from '@opentelemetry/api';
import pino, { type Logger } from 'pino';

export interface LogContext {
  readonly correlationId?: string;
  readonly causationId?: string;
}

/** The ids of what is being handled now: an HTTP request or a consumed message. */
export const logContext = new AsyncLocalStorage<LogContext>();

export type LogLevelName = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** The process's logger: JSON lines with time, level, service and the current ids. */
export function createLogger(
  service: string,
  level: LogLevelName = 'info',
  /** Where the lines go: stdout, synchronously, unless given (tests). */
  destination: pino.DestinationStream = pino.destination({ dest: 1, sync: true }),
): Logger {
  return pino(
    {
      level,
      base: { service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      messageKey: 'message',
      mixin() {
        const ids: Record<string, string> = {};
        const span = trace.getActiveSpan()?.spanContext();
        if (span && trace.isSpanContextValid(span)) {
          ids['trace_id'] = span.traceId;
          ids['span_id'] = span.spanId;
        }
        const current = logContext.getStore();
        if (current?.correlationId) ids['correlation_id'] = current.correlationId;
        if (current?.causationId) ids['causation_id'] = current.causationId;
        return ids;
      },
    },
    // Synchronous by default: a line written just before the process exits is not lost.
    destination,
  );
}
