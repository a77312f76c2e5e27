// Boots one NestJS service: JSON logs, HTTP metrics, OpenAPI at /docs, graceful shutdown on
// SIGTERM/SIGINT (stop accepting, finish in-flight requests, then release connections).
import 'reflect-metadata';
import { type INestApplication, type LogLevel, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { Server } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import { API_VERSION, serviceDocument, type ServiceApi } from '@es/http-api';
import { authConfig, httpConfig } from '@es/runtime-config';
import { stopTracing, type ServiceMetrics } from '@es/observability';
import { docsOnLoopback, guard } from './http/auth';
import { correlated } from './http/request-context';
import { ProblemFilter } from './http/problem.filter';
import { OperationInput, methodNotAllowed } from './http/operation';
import { AcceptedETag } from './http/responses';
import { checkRoutes } from './http/route-check';
import { crossOrigin, strictJsonBody, strictQuery } from './http/strict-input';
import { JsonLogger } from './logging';
import { SERVICE_METRICS } from './platform.module';

export interface ServiceDefinition {
  /** Its name, default port and every operation it serves (its OpenAPI document). */
  readonly api: ServiceApi;
  readonly rootModule: Type;
  /** How long a graceful shutdown may take before the process gives up and exits 1. */
  readonly shutdownTimeoutMs?: number;
}

function httpMetrics(metrics: ServiceMetrics) {
  // Named as Prometheus expects it; this exporter version adds no unit suffix itself.
  const duration = metrics.meter.createHistogram('http_server_request_duration_seconds', {
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

export interface RunOptions {
  /** Stop gracefully on SIGTERM/SIGINT and exit (a service process); off for in-process tests. */
  readonly handleSignals?: boolean;
  /** Where to listen; HOST/PORT from the environment (default: the service's port) otherwise. */
  readonly listen?: { readonly host: string; readonly port: number };
  readonly logLevels?: readonly LogLevel[];
}

export async function runService(
  definition: ServiceDefinition,
  options: RunOptions = {},
): Promise<INestApplication> {
  const { api } = definition;
  const logger = new JsonLogger(api.name, options.logLevels);
  // Bodies are read by strictJsonBody (JSON only, no key twice), not by Nest's parsers.
  const app = await NestFactory.create(definition.rootModule, { logger, bodyParser: false });
  // ETags are resource versions (foundWithETag, AcceptedETag), never Express's body hashes.
  // No X-Powered-By either: what the server runs on is nobody's business.
  const express = app.getHttpAdapter().getInstance() as { set(name: string, value: unknown): void };
  express.set('etag', false);
  express.set('x-powered-by', false);
  // Every log line of a request carries its correlation id (the caller's, or a new one that
  // the events it writes record too).
  app.use(correlated);
  if (options.handleSignals ?? true)
    stopGracefullyOnSignals(app, logger, definition.shutdownTimeoutMs ?? 15_000);
  app.use(httpMetrics(app.get<ServiceMetrics>(SERVICE_METRICS)));
  const auth = authConfig();
  // Browsers: an allowed origin's preflight is answered here, before OPTIONS' Allow below.
  app.use(crossOrigin(auth.allowedOrigins));
  app.use(methodNotAllowed(api.operations));
  app.use(strictQuery());
  app.use(strictJsonBody());
  app.use(docsOnLoopback(auth.docsOpen));
  app.useGlobalFilters(new ProblemFilter());
  // Who may call what (http/auth.ts): before the input is checked, so a caller without a token
  // learns nothing of the operation but that it needs one.
  guard(app, auth);
  app.useGlobalInterceptors(new OperationInput(), new AcceptedETag());

  // The document is the operations' own schemas (libs/http-api), and every route is one of them.
  checkRoutes(app, api);
  const document = serviceDocument(api, API_VERSION);
  SwaggerModule.setup('docs', app, document as unknown as OpenAPIObject, {
    jsonDocumentUrl: 'docs/openapi.json',
  });

  const { host, port } = options.listen ?? httpConfig(api.defaultPort);
  await app.listen(port, host);
  logger.log(`listening on http://${host}:${port}`);
  return app;
}

/**
 * SIGTERM/SIGINT: stop accepting connections, let in-flight requests finish, run the modules'
 * shutdown hooks (connections closed, relays flushed), then exit 0. Nest's own
 * enableShutdownHooks re-raises the signal after closing, which supervisors read as a crash.
 */
function stopGracefullyOnSignals(
  app: INestApplication,
  logger: JsonLogger,
  timeoutMs: number,
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    const deadline = setTimeout(() => {
      logger.error(`shutdown took longer than ${timeoutMs} ms; exiting`);
      process.exit(1);
    }, timeoutMs);
    deadline.unref();
    closeHttp(app)
      .then(() => app.close())
      .then(() => stopTracing())
      .then(
        () => {
          logger.log('stopped');
          process.exit(0);
        },
        (error: unknown) => {
          logger.error(
            `shutdown failed: ${error instanceof Error ? error.message : String(error)}`,
          );
          process.exit(1);
        },
      );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/**
 * Stops accepting connections and waits for the requests in flight to finish. Nest's close()
 * runs the shutdown hooks (pools ended, relay drained) before it closes the HTTP server, which
 * would fail requests still running; so HTTP closes first.
 */
function closeHttp(app: INestApplication): Promise<void> {
  const server = app.getHttpServer() as Server;
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Entry point for an app's main.ts: a failed start is logged with its cause and exits 1. */
export function main(definition: ServiceDefinition): void {
  runService(definition).catch((error: unknown) => {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(
      `${JSON.stringify({ level: 'fatal', context: definition.api.name, message: `failed to start: ${message}` })}\n`,
    );
    process.exit(1);
  });
}
