// Boots one NestJS service: JSON logs, HTTP metrics, OpenAPI at /docs, graceful shutdown on
// SIGTERM/SIGINT (stop accepting, finish in-flight requests, then release connections).
import 'reflect-metadata';
import { ConsoleLogger, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { httpConfig } from '@es/runtime-config';
import type { ServiceMetrics } from '@es/observability';
import { SERVICE_METRICS } from './platform.module';

export interface ServiceDefinition {
  readonly name: string;
  readonly defaultPort: number;
  readonly rootModule: Type;
  readonly description: string;
}

function httpMetrics(metrics: ServiceMetrics) {
  const duration = metrics.meter.createHistogram('http.server.request.duration', {
    description: 'HTTP request duration by method, route template and status',
    unit: 's',
    advice: { explicitBucketBoundaries: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] },
  });
  return (request: Request, response: Response, next: NextFunction): void => {
    const started = performance.now();
    response.on('finish', () => {
      const route = (request.route as { path?: string } | undefined)?.path ?? 'unmatched';
      duration.record((performance.now() - started) / 1000, {
        'http.request.method': request.method,
        'http.route': route,
        'http.response.status_code': response.statusCode,
      });
    });
    next();
  };
}

export async function runService(definition: ServiceDefinition): Promise<INestApplication> {
  const logger = new ConsoleLogger(definition.name, { json: true });
  const app = await NestFactory.create(definition.rootModule, { logger });
  app.enableShutdownHooks();
  app.use(httpMetrics(app.get<ServiceMetrics>(SERVICE_METRICS)));

  const openApi = new DocumentBuilder()
    .setTitle(definition.name)
    .setDescription(definition.description)
    .setVersion('0.1.0')
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, openApi), {
    jsonDocumentUrl: 'docs/openapi.json',
  });

  const { host, port } = httpConfig(definition.defaultPort);
  await app.listen(port, host);
  logger.log(`listening on http://${host}:${port}`);
  return app;
}

/** Entry point for an app's main.ts: a failed start is logged with its cause and exits 1. */
export function main(definition: ServiceDefinition): void {
  runService(definition).catch((error: unknown) => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', context: definition.name, message: `failed to start: ${message}` })}\n`,
    );
    process.exit(1);
  });
}
