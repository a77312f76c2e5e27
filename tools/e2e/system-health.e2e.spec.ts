// What `npm start` promises: the five services as real processes on the local engines, each
// ready on its DESIGN port, with metrics and OpenAPI; and the failure paths of a start.
import { execFileSync } from 'node:child_process';
import { SERVICES, startService, startServices, type RunningService } from '@es/testing';

const dependencies: Record<string, string[]> = {
  // Their GETs answer from the read models, in MongoDB.
  // The order and payment services seal and open personal data: the key vault too.
  'order-service': ['postgres', 'kafka', 'mongodb', 'vault'],
  'inventory-service': ['postgres', 'kafka', 'mongodb'],
  'payment-service': ['postgres', 'kafka', 'mongodb', 'vault'],
  'saga-orchestrator': ['postgres', 'kafka'],
  'projection-service': ['kafka', 'mongodb'],
};

interface ReadyBody {
  status: string;
  service: string;
  checks: Record<string, { status: string; required: boolean; error?: string }>;
}

describe('the system started as npm start starts it', () => {
  let services: RunningService[] = [];

  beforeAll(async () => {
    services = await startServices(SERVICES);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });

  it.each(SERVICES.map((s) => [s.name, s.port] as const))(
    '%s is live and ready on :%i',
    async (name, port) => {
      const live = await fetch(`http://127.0.0.1:${port}/health/live`);
      expect(live.status).toBe(200);
      expect(await live.json()).toEqual({ status: 'live', service: name });

      const ready = await fetch(`http://127.0.0.1:${port}/health/ready`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as ReadyBody;
      expect(body.status).toBe('ready');
      expect(Object.keys(body.checks).sort()).toEqual([...dependencies[name]!].sort());
      for (const check of Object.values(body.checks)) expect(check.status).toBe('up');
    },
  );

  it.each(SERVICES.map((s) => [s.name, s.port] as const))(
    '%s exports Prometheus metrics and OpenAPI',
    async (_name, port) => {
      await fetch(`http://127.0.0.1:${port}/health/live`);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toMatch(/^# HELP process_uptime_seconds /m);
      expect(text).toMatch(
        /^http_server_request_duration_seconds_count\{[^}]*http_route="\/health\/live"[^}]*\} \d+/m,
      );

      const openApi = await fetch(`http://127.0.0.1:${port}/docs/openapi.json`);
      expect(openApi.status).toBe(200);
      const document = (await openApi.json()) as { paths: Record<string, unknown> };
      expect(Object.keys(document.paths)).toEqual(
        expect.arrayContaining(['/health/live', '/health/ready']),
      );
      expect((await fetch(`http://127.0.0.1:${port}/docs`)).status).toBe(200);
    },
  );

  it('listens on loopback only: every service and engine port', () => {
    const ports = [...SERVICES.map((s) => s.port), 55432, 9092, 9093, 27017];
    const listening = execFileSync('ss', ['-ltnH'], { encoding: 'utf8' })
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[3])
      .filter((address): address is string => address !== undefined);
    for (const port of ports) {
      const bound = listening.filter((address) => address.endsWith(`:${port}`));
      expect({ port, bound: bound.length > 0 }).toEqual({ port, bound: true });
      for (const address of bound)
        expect({ port, address }).toEqual({ port, address: `127.0.0.1:${port}` });
    }
  });
});

describe('start-up failure paths', () => {
  it('answers 503 on /health/ready naming a required dependency that is down, while live stays 200', async () => {
    // The projection service has no outbox: without Kafka its read models go stale unseen.
    const service = await startService(
      { name: 'projection-service', port: 3105 },
      { env: { KAFKA_BROKERS: '127.0.0.1:1' }, waitFor: 'live' },
    );
    try {
      const ready = await fetch(service.url('/health/ready'));
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as ReadyBody;
      expect(body.status).toBe('not ready');
      expect(body.checks['mongodb']).toMatchObject({ status: 'up', required: true });
      expect(body.checks['kafka']).toMatchObject({ status: 'down', required: true });
      expect(body.checks['kafka']?.error).toBeTruthy();
      expect((await fetch(service.url('/health/live'))).status).toBe(200);
    } finally {
      await service.stop();
    }
  });

  it('stays ready with Kafka down when the service has an outbox, naming Kafka as down and not required', async () => {
    const service = await startService(
      { name: 'order-service', port: 3101 },
      { env: { KAFKA_BROKERS: '127.0.0.1:1' }, waitFor: 'live' },
    );
    try {
      const ready = await fetch(service.url('/health/ready'));
      const body = (await ready.json()) as ReadyBody;
      expect({ status: ready.status, body: body.status }).toEqual({ status: 200, body: 'ready' });
      expect(body.checks['postgres']).toMatchObject({ status: 'up', required: true });
      expect(body.checks['kafka']).toMatchObject({ status: 'down', required: false });
    } finally {
      await service.stop();
    }
  });

  it('refuses to start with bad configuration and names the variable', async () => {
    const attempt = startService(
      { name: 'payment-service', port: 3103 },
      { env: { PGPORT: 'not-a-port' } },
    );
    await expect(attempt).rejects.toThrow(/payment-service exited during start-up/);
    await expect(attempt).rejects.toThrow(
      /PGPORT: expected a port number 1-65535, got 'not-a-port'/,
    );
  });

  it('stops gracefully on SIGTERM with exit code 0', async () => {
    const service = await startService({ name: 'inventory-service', port: 3102 });
    await service.stop();
    expect(await service.whenExited()).toBe(0);
  });
});
