// Traces through the OpenTelemetry Node SDK, started by each app's first import
// (apps/*/src/tracing.ts), before NestJS, pg or mongodb are loaded, so their instrumentations
// apply: HTTP server and client spans, a span per PostgreSQL query, per MongoDB command. Kafka
// spans are ours (libs/messaging tracing.ts), because one order must stay one trace across the
// outbox relay's batches. Exported as OTLP (HTTP) when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; otherwise nothing starts and the API is a no-op.
import { NodeSDK } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { MongoDBInstrumentation } from '@opentelemetry/instrumentation-mongodb';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';

let sdk: NodeSDK | undefined;

export function tracingEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
}

/** Starts tracing for this process when an OTLP endpoint is configured; says whether it did. */
export function startTracing(serviceName: string): boolean {
  if (sdk || !tracingEnabled()) return sdk !== undefined;
  // Metrics are served as Prometheus text on /metrics (metrics.ts) and logs are JSON lines on
  // stdout: the SDK exports traces only.
  process.env['OTEL_METRICS_EXPORTER'] ??= 'none';
  process.env['OTEL_LOGS_EXPORTER'] ??= 'none';
  sdk = new NodeSDK({
    serviceName,
    traceExporter: new OTLPTraceExporter(),
    instrumentations: [
      new HttpInstrumentation({
        // Health probes and scrapes would drown the traces that matter.
        ignoreIncomingRequestHook: (request) => /^\/(health|metrics)/.test(request.url ?? ''),
      }),
      new PgInstrumentation(),
      new MongoDBInstrumentation(),
    ],
  });
  sdk.start();
  return true;
}

/** Exports what is buffered and stops; a no-op when tracing is off. */
export async function stopTracing(): Promise<void> {
  const running = sdk;
  sdk = undefined;
  await running?.shutdown();
}
