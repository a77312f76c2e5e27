// es, the operator's CLI (apps/cli), run as an operator runs it (`pnpm es` runs the same file)
// against the five services as `npm start` runs them: each command's output and exit code, a
// token missing, forged or of the wrong role, a service not reachable, an order followed across
// the services, a stuck command found in the dead letters and brought through, a rebuild run to
// its switch, a stream republished, and an erasure or a discard refused until confirmed.
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
  const { client, restock, deposit, place, stock, stuckReservation, confirmedOrder } = systemDriver(
    (name) => url(name),
  );
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

    const { orderId } = await confirmedOrder('CLI', 1, 100);
    await eventually(
      () => {
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

  it('follows an order across the services: its events, its saga, its payment, stock and read models', async () => {
    const sku = `SKU-CLI-${randomUUID().slice(0, 8)}`;
    const customerId = `c-cli-${randomUUID().slice(0, 8)}`;
    await restock(sku, 5);
    await deposit(customerId, 1_000);
    const orderId = await place(customerId, sku, 2, 150);
    type Followed = {
      state: { status: string } | null;
      events: { type: string; schemaVersion: number }[];
      sagas: { type: string; state: string }[];
      payment: { status: string; amount: number } | null;
      summary: { stock: { sku: string; status: string }[] } | null;
      readModels: { projection: string; lagEvents: number }[];
    };
    await eventually(
      async () => {
        const followed = es(['--json', 'order', orderId]);
        expect(followed.code).toBe(0);
        expect(JSON.parse(followed.out)).toMatchObject({
          state: { status: 'CONFIRMED' },
          sagas: [{ type: 'order-saga', state: 'COMPLETED' }],
          payment: { status: 'CAPTURED', amount: 300 },
          summary: { stock: [{ sku, status: 'COMMITTED' }] },
          documents: { 'order-details': { orderId, status: 'CONFIRMED', version: 2 } },
        });
        return Promise.resolve();
      },
      { timeoutMs: 60_000 },
    );
    const followed = JSON.parse(es(['--json', 'order', orderId]).out) as Followed;
    expect(followed.events.map((e) => `${e.type} v${e.schemaVersion}`)).toEqual([
      'OrderCreated v3',
      'OrderApproved v1',
    ]);
    expect(followed.readModels.map((r) => r.projection)).toContain('order-details');
    const table = es(['order', orderId]);
    expect(table.code).toBe(0);
    expect(table.out).toContain(`order ${orderId}: CONFIRMED, customer ${customerId}, total 300`);
    expect(table.out).toMatch(/1\s*│\s*OrderCreated v3\s*│/);
    expect(table.out).toContain(`order-saga ${orderId}: COMPLETED`);
    expect(table.out).toContain('payment (payment-service): CAPTURED, amount 300');
    expect(table.out).toMatch(/order-details document: CONFIRMED, version 2/);
    expect(table.out).toMatch(new RegExp(`${sku}\\s*│\\s*2\\s*│\\s*COMMITTED`));
    const missing = es(['order', `no-such-${orderId}`]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no order no-such-/);
    // Any stream, from the service that writes its type: upcast and opened, or as stored.
    const stream = es(['--json', 'stream', `order/${orderId}`, '--at-version', '1']);
    expect(stream.code).toBe(0);
    expect(JSON.parse(stream.out)).toMatchObject({
      service: 'order-service',
      version: 1,
      raw: false,
      events: [
        {
          type: 'OrderCreated',
          schemaVersion: 3,
          data: { contact: { name: expect.any(String) as string } },
        },
      ],
      state: { status: 'PENDING' },
    });
    const stored = JSON.parse(es(['--json', 'stream', `order/${orderId}`, '--raw']).out) as {
      events: { data: { contact: unknown } }[];
      state: { status: string };
    };
    expect(stored.events[0]?.data.contact).toMatchObject({ sealed: 'v1' });
    expect(stored.state.status).toBe('CONFIRMED');
    const stock = es(['stream', `stock-item/${sku}`]);
    expect(stock.code).toBe(0);
    expect(stock.out).toMatch(
      new RegExp(`stock-item/${sku} \\(inventory-service\\): version \\d+`),
    );
    expect(stock.out).toMatch(/StockReserved v1/);
    const unknown = es(['stream', 'nothing/x']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/no service writes streams of type 'nothing'/);
    const none = es(['stream', `order/no-such-${orderId}`]);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/order-service answered 404: no stream order\/no-such-/);
    expect(es(['stream', 'order-without-id']).code).toBe(2);
    // Only a parked saga is retried: the service's refusal, said as it is.
    const retried = es(['saga', 'retry', orderId]);
    expect(retried.code).toBe(1);
    expect(retried.err).toMatch(/saga-orchestrator answered 409 SAGA_NOT_PARKED/);
  });

  it('finds a stuck command in the dead letters, previews, discards the bad one and brings the one behind it through', async () => {
    const sku = `SKU-CLI-${randomUUID().slice(0, 8)}`;
    const orderId = `cli-dlq-${randomUUID().slice(0, 8)}`;
    await restock(sku, 5);
    await stuckReservation(orderId, sku, 2);
    type Letter = { service: string; id: string; messageId: string; cause: string };
    const parked = () => {
      const listed = es(['--json', 'dlq', 'list', '--key', orderId]);
      expect(listed.code).toBe(0);
      return (JSON.parse(listed.out) as { deadLetters: Letter[] }).deadLetters;
    };
    await eventually(
      () => {
        expect(parked().map((l) => [l.service, l.messageId, l.cause])).toEqual([
          ['inventory-service', `${orderId}/1`, 'failed'],
          ['inventory-service', `${orderId}/1-again`, 'behind'],
        ]);
        return Promise.resolve();
      },
      { timeoutMs: 60_000 },
    );
    const [head, behind] = parked() as [Letter, Letter];
    expect(es(['dlq', 'list', '--service', 'inventory', '--key', orderId]).out).toMatch(
      new RegExp(`inventory-service\\s*│\\s*${head.id}\\s*│\\s*inventory-service\\s*│`),
    );
    const shown = es(['dlq', 'show', 'inventory', head.id]);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`inventory-service dead letter ${head.id}: parked (failed)`);
    expect(shown.out).toMatch(/error: .*lines/);
    expect(shown.out).toContain(`"sagaId": "${orderId}"`);
    expect(es(['dlq', 'show', 'nowhere', head.id])).toMatchObject({ code: 2 });

    // The one behind cannot go alone; a preview of the consumer's letters does nothing.
    const early = es(['dlq', 'redrive', 'inventory', behind.id]);
    expect(early.code).toBe(1);
    expect(early.err).toMatch(/inventory-service answered 409 NOT_SEQUENCE_HEAD/);
    const preview = es([
      'dlq',
      'redrive',
      'inventory',
      '--consumer',
      'inventory-service',
      '--key',
      orderId,
      '--dry-run',
    ]);
    expect(preview.code).toBe(0);
    expect(preview.out).toMatch(/would-redrive[\s\S]*would-redrive/);
    expect(preview.out).toContain('dry run: nothing was done (2 letter(s) looked at)');
    expect(parked()).toHaveLength(2);

    // The malformed one given up on: only when confirmed, a dry run first.
    const reason = 'malformed: the saga sent it again whole';
    const discard = ['dlq', 'discard', 'inventory', head.id, '--reason', reason];
    const unconfirmed = es(discard);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.err).toMatch(/not confirmed \(give --yes\)/);
    const dry = es([...discard, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.out).toContain(`dry run: would discard inventory-service dead letter ${head.id}`);
    expect(parked()).toHaveLength(2);
    const discarded = es([...discard, '--yes']);
    expect(discarded.code).toBe(0);
    expect(discarded.out).toMatch(
      new RegExp(`discarded inventory-service dead letter ${head.id} .* by \\S+: ${reason}`),
    );

    // The good one brought through: the stock is reserved, nothing is left parked.
    const redriven = es([
      '--json',
      'dlq',
      'redrive',
      'inventory',
      '--consumer',
      'inventory-service',
      '--key',
      orderId,
    ]);
    expect(redriven.code).toBe(0);
    expect(JSON.parse(redriven.out)).toMatchObject({
      dryRun: false,
      letters: [{ id: behind.id, outcome: 'handled' }],
    });
    expect(await stock(sku)).toMatchObject({ onHand: 5, reserved: 2 });
    expect(parked()).toEqual([]);
  });

  it('rebuilds a projection to its switch, and republishes a stream until it is all in Kafka', async () => {
    const before = JSON.parse(es(['--json', 'projections']).out) as {
      projections: { name: string; active: { generation: number } }[];
    };
    const live = before.projections.find((p) => p.name === 'order-details')!.active.generation;
    const rebuilt = es(['rebuild', 'order-details', '--timeout', '300']);
    expect(rebuilt).toMatchObject({ code: 0 });
    expect(rebuilt.out).toMatch(
      new RegExp(`order-details: generation ${live + 1} took over \\(\\d+ documents`),
    );
    // Its progress on stderr, a line a second at most away from a terminal.
    for (const line of rebuilt.err.split('\n').filter(Boolean))
      expect(line).toMatch(
        /^order-details generation \d+ \[[█░]{24}\]\s+\d+% \d+\/(\d+|\?), \d+\/s/,
      );
    const after = JSON.parse(es(['--json', 'projections']).out) as typeof before;
    expect(after.projections.find((p) => p.name === 'order-details')!.active.generation).toBe(
      live + 1,
    );
    expect(es(['rebuild', 'no-such-projection']).code).toBe(1);

    const { orderId } = await confirmedOrder('CLI', 1, 100);
    const republished = es([
      'republish',
      'order',
      '--stream-type',
      'order',
      '--stream-id',
      orderId,
    ]);
    expect(republished.code).toBe(0);
    expect(republished.out).toMatch(/order-service: republished 2 event\(s\), every one in Kafka/);
  });
});
