// The five services as real child processes (their built dist/main.js), as `npm start` runs
// them and as the e2e tests drive them. A service counts as started when /health/ready says 200.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { mongoConfig } from '@es/runtime-config';
import { uniqueName } from './eventually';
import { identity } from './identity';
import { loadStackEnv, stackDir, workspaceRoot } from './stack';

export const SERVICES = [
  { name: 'order-service', port: 3001 },
  { name: 'inventory-service', port: 3002 },
  { name: 'payment-service', port: 3003 },
  { name: 'saga-orchestrator', port: 3004 },
  { name: 'projection-service', port: 3005 },
] as const;

export type ServiceName = (typeof SERVICES)[number]['name'];

/**
 * The operator's web console (apps/console): run from its TypeScript source, ready when it
 * answers /health. Its port is the one its login callback is registered with at the identity
 * provider (apps/identity-provider/realm.json).
 */
export const CONSOLE = {
  name: 'console',
  port: 3006,
  entry: ['--disable-warning=ExperimentalWarning', 'src/main.mts'],
  health: '/health',
} as const;

/** Each service's PostgreSQL database (the projection service has none). */
export const SERVICE_DATABASES = {
  'order-service': 'orders',
  'inventory-service': 'inventory',
  'payment-service': 'payments',
  'saga-orchestrator': 'sagas',
} as const;

export type DatabaseName = (typeof SERVICE_DATABASES)[keyof typeof SERVICE_DATABASES];

/**
 * A service's own identities on the engines: its PostgreSQL login role, es_<database> as
 * infra/local/postgres.sh makes it (the stack's owner role, PGUSER of stack.env, migrating its
 * schema and granting it what it needs at start), and its Kafka principal, its name
 * (infra/kafka/access.json).
 */
function serviceIdentityEnv(service: string): Record<string, string> {
  const database = (SERVICE_DATABASES as Record<string, DatabaseName | undefined>)[service];
  const role = database === undefined ? undefined : `es_${database}`;
  const owner = process.env['PGUSER'];
  return {
    ...(role === undefined || owner === undefined
      ? {}
      : { PGUSER: role, PG_MIGRATION_USER: owner }),
    ...(process.env['KAFKA_PASSFILE'] ? { KAFKA_SASL_USERNAME: service } : {}),
  };
}

export class RunningService {
  private readonly exited: Promise<number | null>;

  constructor(
    readonly name: string,
    readonly port: number,
    readonly process: ChildProcess,
    readonly logFile: string,
  ) {
    this.exited = new Promise((resolve) => {
      process.once('exit', (code, signal) => {
        resolve(code ?? (signal ? -1 : null));
      });
    });
  }

  url(path = ''): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  get running(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM (graceful) then SIGKILL after the grace period; resolves when the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILL: the crash a fault-injection test wants. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.process.kill('SIGKILL');
    await this.exited;
  }

  /**
   * SIGSTOP: the process stops dead where it is (no consumer, no relay, no heartbeat) without
   * losing anything in memory; `thaw` (SIGCONT) lets it go on. For holding one participant
   * back at an exact point of a saga.
   */
  freeze(): void {
    if (this.running) this.process.kill('SIGSTOP');
  }

  thaw(): void {
    if (this.running) this.process.kill('SIGCONT');
  }

  whenExited(): Promise<number | null> {
    return this.exited;
  }
}

async function isReady(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    return response.status === 200;
  } catch {
    return false;
  }
}

export interface StartOptions {
  readonly env?: Record<string, string>;
  readonly readyTimeoutMs?: number;
  /** `ready` (default) waits for /health/ready; `live` only for the process to serve HTTP. */
  readonly waitFor?: 'ready' | 'live';
}

export async function startService(
  spec: {
    name: string;
    port: number;
    /** Node's arguments, the script relative to the app's folder (dist/main.js by default). */
    entry?: readonly string[];
    /** What answers 200 once it is up (/health/ready or /health/live by default). */
    health?: string;
  },
  { env = {}, readyTimeoutMs = 60_000, waitFor = 'ready' }: StartOptions = {},
): Promise<RunningService> {
  loadStackEnv();
  const logDir = join(stackDir(), 'logs');
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${spec.name}.log`);
  const fd = openSync(logFile, 'a');
  const app = join(workspaceRoot(), 'apps', spec.name);
  const [script = 'dist/main.js', ...flags] = [...(spec.entry ?? ['dist/main.js'])].reverse();
  const child = spawn(process.execPath, [...flags.reverse(), join(app, script)], {
    env: { ...process.env, ...serviceIdentityEnv(spec.name), PORT: String(spec.port), ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const service = new RunningService(spec.name, spec.port, child, logFile);
  const deadline = Date.now() + readyTimeoutMs;
  while (!(await isReady(service.url(spec.health ?? `/health/${waitFor}`)))) {
    if (!service.running) {
      throw new Error(`${spec.name} exited during start-up; log ${logFile}:\n${service.logTail()}`);
    }
    if (Date.now() > deadline) {
      await service.kill();
      throw new Error(
        `${spec.name} not ready within ${readyTimeoutMs} ms; log ${logFile}:\n${service.logTail()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return service;
}

/** Starts services concurrently; if one fails, the others are stopped and the error rethrown. */
export async function startServices(
  specs: readonly Parameters<typeof startService>[0][] = SERVICES,
  options: StartOptions = {},
): Promise<RunningService[]> {
  const results = await Promise.allSettled(specs.map((spec) => startService(spec, options)));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
  if (failed.length > 0) {
    await Promise.all(started.map((s) => s.stop()));
    throw new AggregateError(failed, failed.map((e) => e.message).join('\n\n'));
  }
  return started;
}

/** A port nothing listens on right now (the OS's pick). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ReadSide {
  /** The read-model database: give it to the service under test as MONGO_DATABASE. */
  readonly database: string;
  readonly service: RunningService;
  /** Stops the projection service and drops its database. */
  stop(): Promise<void>;
}

/**
 * The projection service as a child process (its built dist) on a fresh read-model database and
 * its own consumer groups, for an integration test whose service answers GETs from read models.
 */
export async function startReadSide(prefix = 'rm'): Promise<ReadSide> {
  const database = uniqueName(prefix);
  const service = await startService(
    { name: 'projection-service', port: await freePort() },
    { env: { MONGO_DATABASE: database } },
  );
  return {
    database,
    service,
    stop: async () => {
      await service.stop();
      const client = new MongoClient(mongoConfig().url, { serverSelectionTimeoutMS: 5_000 });
      try {
        await client.db(database).dropDatabase();
      } finally {
        await client.close();
      }
    },
  };
}

/**
 * Waits until every projection of the projection service at `baseUrl` has caught up with the
 * topics (lag 0 from the broker): a fresh read side first replays what the topics already hold,
 * and a test about read-your-writes or saga outcomes should not time that catch-up.
 */
export async function readSideCaughtUp(baseUrl: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const response = await fetch(`${baseUrl}/projections`, {
        headers: await identity.headers(), // the projections' status is for operators
        signal: AbortSignal.timeout(30_000),
      });
      const body = (await response.json()) as {
        projections?: { name: string; active: { lagEvents: number } }[];
      };
      const behind = (body.projections ?? []).filter((p) => p.active.lagEvents > 0);
      if (response.ok && body.projections && body.projections.length > 0 && behind.length === 0)
        return;
      last =
        behind.map((p) => `${p.name}: ${p.active.lagEvents}`).join(', ') ||
        `status ${response.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline)
      throw new Error(`the read side did not catch up within ${timeoutMs} ms (${last})`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
