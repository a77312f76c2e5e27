// es, the operator's CLI (apps/cli), run as an operator runs it (`pnpm es` runs the same file)
// against the five services as `npm start` runs them: each command's output and exit code, a
// token missing, forged or of the wrong role, a service not reachable, and an erasure refused
// until confirmed.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  eventually,
  freePort,
  identity,
  readSideCaughtUp,
  startServices,
  workspaceRoot,
  type RunningService,
} from '@es/testing';
import { forgedToken } from '@es/service-testing';
import { systemDriver } from './system-driver';

describe('es, the operator CLI (real processes, real engines)', () => {
  let services: RunningService[] = [];
  const url = (name: string) => {
    const found = services.find((s) => s.name === name);
    if (!found) throw new Error(`${name} is not running`);
    return found.url('');
  };
  const { client, restock, deposit, place, order } = systemDriver((name) => url(name));
  let operator: string;

  /** The CLI as a child process: its exit code, what it printed, what it complained of. */
  function es(args: string[], env: Record<string, string | undefined> = {}) {
    const run = spawnSync(
      process.execPath,
      [
        '--disable-warning=ExperimentalWarning',
        join(workspaceRoot(), 'apps/cli/src/es.mts'),
        ...args,
      ],
      {
        encoding: 'utf8',
        timeout: 60_000,
        input: '',
        env: {
          PATH: process.env['PATH'] ?? '',
          ES_TOKEN: operator,
          ...Object.fromEntries(
            services.map((s) => [`ES_${s.name.toUpperCase().replace(/-/g, '_')}_URL`, s.url('')]),
          ),
          ...env,
        },
      },
    );
    return { code: run.status, out: run.stdout, err: run.stderr };
  }

  beforeAll(async () => {
    services = await startServices(undefined, { env: { CONSISTENCY_WAIT_MS: '20000' } });
    await readSideCaughtUp(url('projection-service'));
    operator = await identity.token();
  }, 180_000);
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });

  it('refuses without a token (2), with an expired one (1), and as a customer (1), saying why', async () => {
    const none = es(['projections'], { ES_TOKEN: undefined });
    expect(none).toMatchObject({ code: 2, out: '' });
    expect(none.err).toMatch(/no token: set ES_TOKEN/);
    const expired = await forgedToken({ exp: Math.floor(Date.now() / 1000) - 120 });
    const refused = es(['projections'], { ES_TOKEN: expired });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused the token \(401\): it has expired/);
    const customer = es(['sagas'], { ES_TOKEN: await identity.token({ customer: 'c-cli' }) });
    expect(customer.code).toBe(1);
    expect(customer.err).toMatch(/saga-orchestrator refused \(403\)/);
  });

  it('says a service is not reachable (3)', async () => {
    const away = es(['projections'], {
      ES_PROJECTION_SERVICE_URL: `http://127.0.0.1:${await freePort()}`,
    });
    expect(away.code).toBe(3);
    expect(away.err).toMatch(/projection-service is not reachable/);
  });

  it('shows the projections, and a saga with its timeline, as tables or JSON', async () => {
    const projections = es(['--json', 'projections']);
    expect(projections.code).toBe(0);
    const names = (
      JSON.parse(projections.out) as { projections: { name: string }[] }
    ).projections.map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['order-details', 'customer-account']));
    expect(es(['projections']).out).toMatch(/order-details\s*│\s*\d+/);

    const sku = `SKU-CLI-${randomUUID().slice(0, 8)}`;
    const customerId = `c-cli-${randomUUID().slice(0, 8)}`;
    await restock(sku, 5);
    await deposit(customerId, 1_000);
    const orderId = await place(customerId, sku, 1, 100);
    await eventually(
      async () => {
        expect((await order(orderId)).status).toBe('CONFIRMED');
        expect(JSON.parse(es(['--json', 'saga', orderId]).out)).toMatchObject({
          state: 'COMPLETED',
        });
      },
      { timeoutMs: 60_000 },
    );
    const table = es(['saga', orderId]);
    expect(table.code).toBe(0);
    expect(table.out).toContain(`order-saga ${orderId}: COMPLETED`);
    expect(table.out).toMatch(/SagaCommandSent\s*│\s*reserve-stock\s*│\s*ReserveStock/);
    const missing = es(['saga', 'no-such-saga']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/saga-orchestrator answered 404/);
    const sagas = es(['--json', 'sagas', '--state', 'PARKED']);
    expect(sagas.code).toBe(0);
    expect(Array.isArray((JSON.parse(sagas.out) as { sagas: unknown[] }).sagas)).toBe(true);
    expect(es(['sagas', '--state', 'ASLEEP']).code).not.toBe(0);
  });

  it('erases a customer only when confirmed, then says how many keys it destroyed', async () => {
    const customerId = `c-cli-${randomUUID().slice(0, 8)}`;
    const named = await client('payment-service').POST('/accounts/{customerId}/holder', {
      params: { path: { customerId }, header: { 'Idempotency-Key': randomUUID() } },
      body: { name: 'Ida Clifford', email: 'ida.cli@example.invalid' },
    });
    expect(named.response.status).toBe(202);
    const unconfirmed = es(['erase', customerId]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.err).toMatch(/not confirmed \(give --yes\)/);
    const holder = async () =>
      (
        await client('payment-service').GET('/accounts/{customerId}', {
          params: { path: { customerId } },
        })
      ).data?.holder;
    await eventually(async () => {
      expect(await holder()).toEqual({ name: 'Ida Clifford', email: 'ida.cli@example.invalid' });
    });
    const erased = es(['erase', customerId, '--yes']);
    expect(erased.code).toBe(0);
    expect(erased.out).toContain(`erased customer ${customerId}: 1 key(s) destroyed`);
    const again = es(['--json', 'erase', customerId, '--yes']);
    expect(JSON.parse(again.out)).toMatchObject({ customerId, keysErased: 0 });
    await eventually(async () => {
      expect(await holder()).toEqual({ name: { erased: true }, email: { erased: true } });
    });
  });
});
