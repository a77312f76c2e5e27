// A service's NestJS application in the test process, on its own fresh database and a free
// port: for integration tests that drive one service's REST and buses on the real engines.
// The stack's addresses come from the environment (the Jest setup loads them).
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication, Type } from '@nestjs/common';
import type { ServiceApi } from '@es/http-api';
import { runService } from '@es/service-runtime';
import { callerFor, identity, type Caller } from '@es/testing';

export interface TestService {
  readonly app: INestApplication;
  url(path?: string): string;
  close(): Promise<void>;
}

export async function startTestService(
  api: ServiceApi,
  rootModule: Type,
  database: string,
  /** More settings for its start-up, e.g. MONGO_DATABASE of a read side started for the test. */
  env: Readonly<Record<string, string>> = {},
): Promise<TestService> {
  // The service's providers read their settings when they are created, during start-up only.
  const settings = { ...env, PGDATABASE: database };
  const previous = Object.fromEntries(Object.keys(settings).map((k) => [k, process.env[k]]));
  Object.assign(process.env, settings);
  let app: INestApplication;
  try {
    app = await runService(
      { api, rootModule },
      {
        handleSignals: false,
        listen: { host: '127.0.0.1', port: 0 },
        logLevels: ['error', 'warn'],
      },
    );
  } finally {
    for (const [key, value] of Object.entries(previous)) {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- process.env is a map
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  const { port } = (app.getHttpServer() as Server).address() as AddressInfo;
  return {
    app,
    url: (path = '') => `http://127.0.0.1:${port}${path}`,
    close: () => app.close(),
  };
}

/**
 * fetch with a JSON body and a bearer token; returns the status, headers and parsed body, typed
 * as the caller expects the service to answer (the test's assertions check it). The request is
 * made `as` the caller given, else as the customer its body names, else as the test client
 * (staff and operator); `as: 'anonymous'` sends no token.
 */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters
export async function http<Body = unknown>(
  url: string,
  init: {
    method?: string;
    body?: unknown;
    headers?: Record<string, string>;
    as?: Caller | 'anonymous';
    /**
     * A POST carries a fresh Idempotency-Key unless its headers name one, as a careful client's
     * does (the commands that move money or stock require one); false sends none.
     */
    idempotencyKey?: false;
  } = {},
): Promise<{ status: number; headers: Headers; body: Body }> {
  const caller = init.as ?? callerFor(init.body);
  const method = init.method ?? (init.body === undefined ? 'GET' : 'POST');
  const keyed = Object.keys(init.headers ?? {}).some((h) => h.toLowerCase() === 'idempotency-key');
  const response = await fetch(url, {
    method,
    headers: {
      ...(caller === 'anonymous' ? {} : await identity.headers(caller)),
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(method === 'POST' && !keyed && init.idempotencyKey !== false
        ? { 'idempotency-key': randomUUID() }
        : {}),
      ...init.headers,
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, headers: response.headers, body: body as Body };
}
