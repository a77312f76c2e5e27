// Metrics through the OpenTelemetry SDK, exposed as Prometheus text on the service's own HTTP
// port (GET /metrics) rather than a second listener, so one address serves health and metrics.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Meter } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

export interface ServiceMetrics {
  readonly meter: Meter;
  /** Writes the Prometheus text exposition of every instrument to the response. */
  serve(request: IncomingMessage, response: ServerResponse): void;
  shutdown(): Promise<void>;
}

export function createServiceMetrics(serviceName: string): ServiceMetrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    readers: [exporter],
  });
  const meter = provider.getMeter(serviceName);

  const startedAt = Date.now();
  meter
    .createObservableGauge('process_uptime_seconds', {
      description: 'Seconds since the process started',
    })
    .addCallback((result) => {
      result.observe((Date.now() - startedAt) / 1000);
    });
  meter
    .createObservableGauge('process_resident_memory_bytes', {
      description: 'Resident set size',
      unit: 'By',
    })
    .addCallback((result) => {
      result.observe(process.memoryUsage.rss());
    });

  return {
    meter,
    serve: (request, response) => {
      exporter.getMetricsRequestHandler(request, response);
    },
    shutdown: () => provider.shutdown(),
  };
}
