// The README's "Using the services" block runs as written, against the five services as
// `npm start` runs them: every curl in it must answer 2xx (curl --fail-with-body), the order's
// id is picked out with jq as the block does, and each answer is the kind the comment says.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  SERVICES,
  eventually,
  identity,
  readSideCaughtUp,
  startServices,
  workspaceRoot,
  type RunningService,
} from '@es/testing';

const root = workspaceRoot();

/** The first sh block under a heading of the README. */
function readmeBlock(heading: string): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n## ${heading}\n`));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error(`no sh block under "## ${heading}" in README.md`);
  return block;
}

describe('the README', () => {
  let services: RunningService[] = [];

  beforeAll(async () => {
    // jq is what the block uses to keep the order's id; installed like the engines' packages.
    if (spawnSync('bash', ['-c', 'command -v jq']).status !== 0)
      spawnSync('bash', ['-c', `. '${root}/infra/local/common.sh' && apt_install jq`], {
        stdio: 'inherit',
      });
    // A cancellation's read waits for its saga: give it the time a loaded CI machine needs.
    services = await startServices(SERVICES, { env: { CONSISTENCY_WAIT_MS: '20000' } });
    const projection = services.find((s) => s.name === 'projection-service')!;
    await readSideCaughtUp(projection.url(''));
  }, 180_000);
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });

  it('"Using the services" runs as written, every request answered 2xx', () => {
    const block = readmeBlock('Using the services');
    expect(block).toMatch(/\$order/); // it reads back the order it placed
    const script = [
      'set -euo pipefail',
      // Each curl as written, failing on a 4xx or 5xx with the answer shown; each answer on
      // its own line.
      'curl() { command curl --fail-with-body -sS "$@"; echo; }',
      block,
    ].join('\n');
    const result = spawnSync('bash', ['-c', script], { encoding: 'utf8', timeout: 90_000 });
    if (result.status !== 0)
      throw new Error(`the block failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
    const answers = result.stdout
      .trim()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // restock, deposit, (the order, taken by jq), the order, the list, events, state, saga,
    // the order confirmed, the cancel, the order cancelled, the cancellation, the account, the
    // erasure, the audit trail after it
    expect(answers).toHaveLength(14);
    const [, , order, list, events, state, saga, confirmed, cancel, cancelled, cancellation] =
      answers;
    const [erased, trail] = answers.slice(12);
    // At least the version placed (the saga may already have confirmed it).
    expect(order).toMatchObject({ customerId: 'alice', total: 2_500 });
    expect(['PENDING', 'CONFIRMED']).toContain(order?.['status']);
    expect(list?.['orders']).toEqual(
      expect.arrayContaining([expect.objectContaining({ orderId: order?.['orderId'] })]),
    );
    expect((events?.['events'] as { type: string }[])[0]).toMatchObject({ type: 'OrderCreated' });
    expect(state).toMatchObject({ orderId: order?.['orderId'], version: 1 });
    expect(saga).toMatchObject({ sagaId: order?.['orderId'] });
    expect(confirmed).toMatchObject({ status: 'CONFIRMED', version: 2 });
    expect(cancel).toMatchObject({ orderId: order?.['orderId'], version: 3 });
    expect(cancelled).toMatchObject({ status: 'CANCELLED', cancellationReason: 'changed my mind' });
    expect(cancellation).toMatchObject({ type: 'order-cancellation', state: 'COMPLETED' });
    // Her order's contact was hers (opened for the answer), then erased: the payment service
    // destroyed her key; the audit trail reads the marker once the order service's cache lets
    // go of it (a minute at most; maybe at once).
    expect(confirmed).toMatchObject({ contact: { name: 'Alice Liddell' } });
    expect(erased).toMatchObject({ customerId: 'alice', keysErased: 1 });
    // The contact as OrderCreated holds it, sealed whole: opened, or erased whole.
    const contact = (trail?.['events'] as { data: { contact?: Record<string, unknown> } }[])[0]
      ?.data.contact;
    expect([true, 'Alice Liddell']).toContain(contact?.['erased'] ?? contact?.['name']);
  });

  it('after it, the refund is on the account', async () => {
    const payments = services.find((s) => s.name === 'payment-service')!;
    await eventually(async () => {
      const account = (await (
        await fetch(payments.url('/accounts/alice'), { headers: await identity.headers() })
      ).json()) as {
        recentPayments: { status: string }[];
      };
      expect(account.recentPayments[0]).toMatchObject({ status: 'REFUNDED', amount: 2_500 });
    });
  });
});
