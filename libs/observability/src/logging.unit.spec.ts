// Every log line is one JSON object with its level, time, service and message, and the ids of
// what is being handled: the active span's trace and span ids, the correlation and causation ids.
import { ROOT_CONTEXT, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { createLogger, logContext } from './logging';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = {
    write(chunk: string) {
      for (const line of chunk.split('\n'))
        if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  return { lines, destination };
}

describe('structured logs', () => {
  const manager = new AsyncLocalStorageContextManager();
  beforeAll(() => {
    context.setGlobalContextManager(manager.enable());
  });
  afterAll(() => {
    manager.disable();
    context.disable();
  });

  it('writes one JSON line with level, ISO time, service and message', () => {
    const { lines, destination } = capture();
    createLogger('order-service', 'info', destination)
      .child({ context: 'orders' })
      .warn({ orderId: 'o-1' }, 'slow');
    expect(lines).toEqual([
      {
        level: 'warn',
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/) as string,
        service: 'order-service',
        pid: process.pid,
        context: 'orders',
        orderId: 'o-1',
        message: 'slow',
      },
    ]);
  });

  it('carries the correlation and causation ids of the request or message being handled, across awaits', async () => {
    const { lines, destination } = capture();
    const logger = createLogger('payment-service', 'info', destination);
    await logContext.run({ correlationId: 'corr-1', causationId: 'msg-1' }, async () => {
      await new Promise((resolve) => setTimeout(resolve, 5));
      logger.info('handled');
    });
    logger.info('outside');
    expect(lines.map((l) => [l['message'], l['correlation_id'], l['causation_id']])).toEqual([
      ['handled', 'corr-1', 'msg-1'],
      ['outside', undefined, undefined],
    ]);
  });

  it("carries the active span's trace and span ids", () => {
    const { lines, destination } = capture();
    const logger = createLogger('saga-orchestrator', 'info', destination);
    const span = trace.wrapSpanContext({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
    });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => {
      logger.info('in a span');
    });
    expect(lines[0]).toMatchObject({
      message: 'in a span',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
      span_id: '00f067aa0ba902b7',
    });
    expect(lines[0]).not.toHaveProperty('correlation_id');
  });

  it('writes nothing below its level', () => {
    const { lines, destination } = capture();
    const logger = createLogger('x', 'warn', destination);
    logger.info('quiet');
    logger.error('loud');
    expect(lines.map((l) => l['message'])).toEqual(['loud']);
  });
});
