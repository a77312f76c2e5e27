// GET /metrics of every service parses as Prometheus text, and its backlog and lag figures move
// with a backlog the test makes and then lets drain:
// - the payment service's outbox backlog: the test holds its relay's leader lock (an advisory
//   lock in the payments database), deposits, sees the backlog and its age grow, lets go, and
//   sees it drain to 0;
// - the inventory service's consumer lag: the test locks inventory's inbox table, sends saga
//   commands to inventory.commands, sees the group's lag grow (from the broker), unlocks, and
//   sees it drain to 0.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { postgresConfig } from '@es/runtime-config';
import { http } from '@es/service-testing';
import {
  SERVICES,
  eventually,
  loadStackEnv,
  startServices,
  testKafka,
  type RunningService,
} from '@es/testing';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses the Prometheus text exposition format; throws on the first line that is not in it. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  const typed = new Set<string>();
  for (const [index, line] of text.split('\n').entries()) {
    if (line === '') continue;
    const comment = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (comment) {
      if (comment[1] === 'TYPE') {
        if (!/^(counter|gauge|histogram|summary|untyped)$/.test(comment[3]!))
          throw new Error(`line ${index + 1}: unknown type: ${line}`);
        typed.add(comment[2]!);
      }
      continue;
    }
    if (line.startsWith('#')) continue; // any other comment (e.g. # UNIT) is ignored by the format
    const sample =
      /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)(?: -?\d+)?$/.exec(
        line,
      );
    if (!sample) throw new Error(`line ${index + 1} is not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[m[1]!] = m[2]!;
    const name = sample[1]!;
    const family = name.replace(/_(bucket|count|sum)$/, '');
    if (!typed.has(name) && !typed.has(family))
      throw new Error(`line ${index + 1}: ${name} has no # TYPE line`);
    samples.push({ name, labels, value: Number(sample[3]) });
  }
  return samples;
}

const sum = (samples: readonly Sample[], name: string, labels: Record<string, string> = {}) =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);

describe('metrics: every service, and figures that move with a backlog', () => {
  let services: RunningService[] = [];
  const url = (name: string, path: string) => services.find((s) => s.name === name)!.url(path);
  const metrics = async (name: string) =>
    parsePrometheus(
      await (await fetch(url(name, '/metrics'), { signal: AbortSignal.timeout(5_000) })).text(),
    );
  let payments: pg.Client;

  beforeAll(async () => {
    loadStackEnv();
    // The relay leads only with this lock: held here first, the payment service cannot publish.
    payments = new pg.Client(postgresConfig('payments'));
    await payments.connect();
    await payments.query(`SELECT pg_advisory_lock(hashtext('es:outbox-relay:payment-service'))`);
    services = await startServices(SERVICES, { env: { CONSISTENCY_WAIT_MS: '20000' } });
  }, 120_000);
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await payments.end();
  });

  it('every service answers /metrics in Prometheus text, with its own figures', async () => {
    await http(url('payment-service', `/accounts/metrics-${randomUUID()}/deposit`), {
      body: { amount: 100 },
    });
    const expected: Record<string, string[]> = {
      'order-service': [
        'http_server_request_duration_seconds_bucket',
        'outbox_backlog_messages',
        'kafka_consumer_lag',
        // The decoding relay's slot (the default mode).
        'outbox_slot_lag_bytes',
        'outbox_slot_lag_seconds',
        'outbox_slot_safe_wal_bytes',
      ],
      'inventory-service': ['outbox_backlog_messages', 'kafka_consumer_lag', 'dlq_messages'],
      'payment-service': [
        'commands_total',
        'event_store_append_seconds_bucket',
        'outbox_backlog_messages',
      ],
      'saga-orchestrator': ['sagas', 'kafka_consumer_lag', 'dlq_messages'],
      'projection-service': ['projection_lag_events', 'kafka_consumer_lag', 'dlq_messages'],
    };
    for (const [service, names] of Object.entries(expected))
      await eventually(async () => {
        const present = new Set((await metrics(service)).map((s) => s.name));
        expect({ service, missing: names.filter((n) => !present.has(n)) }).toEqual({
          service,
          missing: [],
        });
      });
    const payment = await metrics('payment-service');
    expect(
      sum(payment, 'commands_total', {
        stream_type: 'account',
        command: 'DepositFunds',
        outcome: 'accepted',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('every service logs JSON lines with its name, level, time and message', () => {
    for (const service of services) {
      // The file gathers every start's stdout and stderr (Node's own warnings are not JSON):
      // read this start's JSON lines, from its last "listening on" to the end.
      const lines = readFileSync(service.logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'));
      const start = lines.findLastIndex(
        (l) => l.includes('"service"') && l.includes('listening on '),
      );
      expect({ service: service.name, started: start >= 0 }).toEqual({
        service: service.name,
        started: true,
      });
      for (const line of lines.slice(start))
        expect(JSON.parse(line)).toMatchObject({
          level: expect.stringMatching(/^(trace|debug|info|warn|error|fatal)$/) as string,
          time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as string,
          service: service.name,
          message: expect.any(String) as string,
        });
    }
  });

  it("the payment service's outbox backlog grows while its relay cannot lead, and drains when it can", async () => {
    const customer = `metrics-${randomUUID()}`;
    for (let i = 0; i < 5; i++)
      expect(
        (
          await http(url('payment-service', `/accounts/${customer}/deposit`), {
            body: { amount: 10 },
          })
        ).status,
      ).toBe(202);
    await eventually(async () => {
      const samples = await metrics('payment-service');
      expect(sum(samples, 'outbox_backlog_messages')).toBeGreaterThanOrEqual(5);
      expect(sum(samples, 'outbox_oldest_unpublished_age_seconds')).toBeGreaterThan(0);
      expect(sum(samples, 'outbox_is_leader')).toBe(0);
    });
    await payments.query(`SELECT pg_advisory_unlock(hashtext('es:outbox-relay:payment-service'))`);
    await eventually(
      async () => {
        const samples = await metrics('payment-service');
        expect(sum(samples, 'outbox_is_leader')).toBe(1);
        expect(sum(samples, 'outbox_backlog_messages')).toBe(0);
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
  });

  it("the inventory service's consumer lag grows while its handler is blocked, and drains after", async () => {
    const group = { group: 'inventory-service', topic: 'inventory.commands' };
    await eventually(async () => {
      expect(sum(await metrics('inventory-service'), 'kafka_consumer_lag', group)).toBe(0);
    });
    const inventory = new pg.Client(postgresConfig('inventory'));
    await inventory.connect();
    const kafka = testKafka('metrics-e2e');
    const producer = kafka.producer();
    try {
      // Every command's handling first reads the inbox (under its stream's lock): with the
      // inbox locked, each one waits, and nothing else (relay, gauges) reads that table.
      await inventory.query('BEGIN');
      await inventory.query(`SET LOCAL lock_timeout = '5s'`);
      await inventory.query('LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE');
      await producer.connect();
      const commands = Array.from({ length: 30 }, () => {
        const orderId = `metrics-${randomUUID()}`;
        return {
          key: orderId,
          value: JSON.stringify({
            type: 'ReserveStock',
            version: 1,
            sagaId: orderId,
            data: { orderId, lines: [{ sku: 'METRICS-NONE', quantity: 1 }] },
          }),
          headers: { 'message-id': randomUUID() },
        };
      });
      await producer.send({ topic: 'inventory.commands', messages: commands });
      await eventually(async () => {
        expect(
          sum(await metrics('inventory-service'), 'kafka_consumer_lag', group),
        ).toBeGreaterThanOrEqual(20);
      });
    } finally {
      await inventory.query('COMMIT');
      await inventory.end();
      await producer.disconnect();
    }
    await eventually(
      async () => {
        expect(sum(await metrics('inventory-service'), 'kafka_consumer_lag', group)).toBe(0);
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  });
});
