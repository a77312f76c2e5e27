// One order, one trace, across all five processes: the services export OTLP (JSON over HTTP)
// to a receiver in this test, and the spans of a whole saga run are checked for one trace id,
// the spans each service must contribute, and their parents: every Kafka consumer's span is a
// child of the producer span that published its message, in another process.
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { http } from '@es/service-testing';
import {
  SERVICES,
  eventually,
  readSideCaughtUp,
  startServices,
  type RunningService,
  contactFor,
} from '@es/testing';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}
interface CollectedSpan extends OtlpSpan {
  service: string;
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

describe('tracing: one order is one trace across the five services', () => {
  const spans: CollectedSpan[] = [];
  let receiver: Server;
  let services: RunningService[] = [];
  const url = (name: string, path: string) => services.find((s) => s.name === name)!.url(path);

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/v1/traces') {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as OtlpExport;
          for (const resource of body.resourceSpans) {
            const service =
              resource.resource.attributes.find((a) => a.key === 'service.name')?.value
                .stringValue ?? '?';
            for (const scope of resource.scopeSpans)
              for (const span of scope.spans) spans.push({ ...span, service });
          }
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;
    services = await startServices(SERVICES, {
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        OTEL_BSP_SCHEDULE_DELAY: '100',
        CONSISTENCY_WAIT_MS: '20000',
      },
    });
    await readSideCaughtUp(url('projection-service', ''));
  }, 240_000);
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('the POST, its events, every saga step in three services and the read model share one trace', async () => {
    const run = Date.now().toString(36);
    const sku = `TRACE-${run}`;
    const customer = `trace-${run}`;
    await http(url('inventory-service', `/inventory/${sku}/restock`), { body: { quantity: 5 } });
    await http(url('payment-service', `/accounts/${customer}/deposit`), {
      body: { amount: 10_000 },
    });
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const placed = await http<{ orderId: string; token: string }>(url('order-service', '/orders'), {
      body: {
        customerId: customer,
        items: [{ sku, quantity: 2, unitPrice: 300 }],
        ...contactFor(customer),
      },
      headers: { traceparent: `00-${traceId}-${callerSpan}-01` },
    });
    expect(placed.status).toBe(202);
    const orderId = placed.body.orderId;
    await eventually(
      async () => {
        const order = await http<{ status: string; saga?: { state: string } }>(
          url('order-service', `/orders/${orderId}`),
        );
        expect(order.body).toMatchObject({ status: 'CONFIRMED', saga: { state: 'COMPLETED' } });
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );

    const expected: [service: string, name: string, kind: number][] = [
      ['order-service', 'orders.events publish', PRODUCER],
      ['saga-orchestrator', 'orders.events process', CONSUMER],
      ['saga-orchestrator', 'inventory.commands publish', PRODUCER],
      ['inventory-service', 'inventory.commands process', CONSUMER],
      ['inventory-service', 'sagas.replies publish', PRODUCER],
      ['saga-orchestrator', 'sagas.replies process', CONSUMER],
      ['saga-orchestrator', 'payments.commands publish', PRODUCER],
      ['payment-service', 'payments.commands process', CONSUMER],
      ['saga-orchestrator', 'orders.commands publish', PRODUCER],
      ['order-service', 'orders.commands process', CONSUMER],
      ['projection-service', 'project order-details', CONSUMER],
      ['projection-service', 'project order-summary', CONSUMER],
    ];
    const mine = () => spans.filter((s) => s.traceId === traceId);
    await eventually(
      () => {
        const collected = mine();
        const names = new Set(collected.map((s) => `${s.service} ${s.name} ${s.kind}`));
        expect(
          expected.filter(([service, name, kind]) => !names.has(`${service} ${name} ${kind}`)),
        ).toEqual([]);
        // Each process exports on its own schedule: wait until every span's parent has arrived.
        const ids = new Set(collected.map((s) => s.spanId));
        expect(
          collected.filter(
            (s) => s.parentSpanId && s.parentSpanId !== callerSpan && !ids.has(s.parentSpanId),
          ),
        ).toEqual([]);
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    const trace = mine();
    const byId = new Map(trace.map((s) => [s.spanId, s]));

    // The POST is the order service's server span, child of the caller's span.
    const server = trace.find((s) => s.service === 'order-service' && s.kind === SERVER);
    expect(server?.parentSpanId).toBe(callerSpan);
    // Its event's publish continues the request's trace from the server span's subtree.
    const published = trace.find(
      (s) => s.name === 'orders.events publish' && s.service === 'order-service',
    )!;
    expect(ancestors(published, byId)).toContain(server!.spanId);

    // Every consumer span (saga steps, replies, projections) is a child of a publish span of
    // the same topic, from another process.
    const consumers = trace.filter((s) => s.kind === CONSUMER);
    expect(consumers.length).toBeGreaterThanOrEqual(8);
    for (const consumer of consumers) {
      const parent = consumer.parentSpanId ? byId.get(consumer.parentSpanId) : undefined;
      expect({
        span: `${consumer.service} ${consumer.name}`,
        parent: parent?.name,
        kind: parent?.kind,
      }).toEqual({
        span: `${consumer.service} ${consumer.name}`,
        parent: expect.stringMatching(/ publish$/) as string,
        kind: PRODUCER,
      });
      expect(parent!.service).not.toBe(consumer.service);
      if (consumer.name.endsWith(' process'))
        expect(parent!.name).toBe(consumer.name.replace(/ process$/, ' publish'));
    }
    // The queries the steps ran are in the trace too (pg instrumentation: CLIENT spans), each
    // under the consumer span of its step.
    const queries = trace.filter((s) => s.service === 'inventory-service' && s.kind === CLIENT);
    expect(queries.length).toBeGreaterThan(0);
    for (const query of queries)
      expect(
        ancestors(query, byId).some((id) => byId.get(id)?.name === 'inventory.commands process'),
      ).toBe(true);
    // All five processes took part in this one trace.
    expect(new Set(trace.map((s) => s.service))).toEqual(
      new Set([
        'order-service',
        'saga-orchestrator',
        'inventory-service',
        'payment-service',
        'projection-service',
      ]),
    );
  });
});

function ancestors(span: OtlpSpan, byId: ReadonlyMap<string, OtlpSpan>): string[] {
  const chain: string[] = [];
  for (let at = span.parentSpanId; at; at = byId.get(at)?.parentSpanId) chain.push(at);
  return chain;
}
