// es, the operator's CLI (README, "The operator's CLI"): every command an authorized call to a service's
// API, as the operator whose token it carries (ES_TOKEN, e.g. ES_TOKEN=$(pnpm -s token olga)),
// recorded in the services' audit trail under that identity. Human tables by default, --json
// for scripts. Exit codes: 0 done; 1 the service refused or failed (its problem printed);
// 2 a usage error (a missing token, a destructive command not confirmed); 3 a service not
// reachable.
//   pnpm es sagas --state PARKED        pnpm es saga <id> [--type order-cancellation]
//   pnpm es projections                 pnpm es erase <customerId> [--yes]
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import Table from 'cli-table3';

const PORTS = {
  'order-service': 3001,
  'inventory-service': 3002,
  'payment-service': 3003,
  'saga-orchestrator': 3004,
  'projection-service': 3005,
} as const;
type Service = keyof typeof PORTS;

/** A failure with the exit code it means. */
class Exit extends Error {
  readonly code: 1 | 2 | 3;
  constructor(message: string, code: 1 | 2 | 3) {
    super(message);
    this.code = code;
  }
}

/** ES_<SERVICE>_URL (e.g. ES_PAYMENT_SERVICE_URL), else the port `npm start` gives it. */
function baseUrl(service: Service): string {
  const variable = `ES_${service.toUpperCase().replace(/-/g, '_')}_URL`;
  return process.env[variable] ?? `http://127.0.0.1:${PORTS[service]}`;
}

function token(): string {
  const value = process.env['ES_TOKEN'];
  if (!value)
    throw new Exit(
      "no token: set ES_TOKEN to an operator's access token, e.g. ES_TOKEN=$(pnpm -s token olga)",
      2,
    );
  return value;
}

/** One call to a service's API; its JSON answer, or an Exit that says what went wrong. */
async function call<T>(
  service: Service,
  path: string,
  init: { method?: 'GET' | 'POST'; body?: unknown } = {},
): Promise<T> {
  const url = `${baseUrl(service)}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${token()}`,
        ...(init.body === undefined
          ? {}
          : { 'content-type': 'application/json', 'idempotency-key': crypto.randomUUID() }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    if (error instanceof Exit) throw error;
    throw new Exit(`${service} is not reachable at ${baseUrl(service)}: ${String(error)}`, 3);
  }
  const text = await response.text();
  const body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  const said = (fallback: string) =>
    typeof body['detail'] === 'string'
      ? body['detail']
      : typeof body['title'] === 'string'
        ? body['title']
        : fallback;
  if (response.ok) return body as T;
  if (response.status === 401)
    throw new Exit(
      `${service} refused the token (401): it has expired or is not one of this system's; get a new one (pnpm -s token <user>)`,
      1,
    );
  if (response.status === 403)
    throw new Exit(`${service} refused (403): ${said("the token's roles do not allow it")}`, 1);
  const code = typeof body['code'] === 'string' ? ` ${body['code']}` : '';
  throw new Exit(`${service} answered ${response.status}${code}: ${said(text)}`, 1);
}

function print(json: boolean, value: unknown, table: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${table()}\n`);
}

function tableOf(head: string[], rows: (string | number | null | undefined)[][]): string {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows)
    table.push(row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  return table.toString();
}

/** A destructive action goes on only when confirmed: --yes, or "yes" typed at a terminal. */
async function confirm(what: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new Exit(`${what}: not confirmed (give --yes)`, 2);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await prompt.question(`${what}. Type yes to go on: `);
  prompt.close();
  if (answer.trim() !== 'yes') throw new Exit(`${what}: not confirmed`, 2);
}

interface SagaView {
  sagaId: string;
  type: string;
  state: string;
  step: string | null;
  compensating: boolean;
  deadlineAt: string | null;
  problem: string | null;
  startedAt: string;
  endedAt: string | null;
  version: number;
  timeline: {
    at: string;
    event: string;
    step?: string;
    command?: string;
    outcome?: string;
    detail?: string;
  }[];
}

interface ProjectionStatus {
  name: string;
  active: { generation: number; lagEvents: number; activatedAt: string };
  rebuilding?: { generation: number; lagEvents: number };
}

const program = new Command('es')
  .description(
    "The operator's console on the command line: every command a call to a service's API",
  )
  .option('--json', 'JSON for scripts, not tables')
  .showHelpAfterError();
const json = () => program.opts<{ json?: boolean }>().json === true;

program
  .command('sagas')
  .description('The sagas in a state, oldest first')
  .addOption(
    new Option('--state <state>', 'their state')
      .choices(['RUNNING', 'WAITING', 'COMPENSATING', 'PARKED', 'COMPLETED', 'COMPENSATED'])
      .default('PARKED'),
  )
  .option('--type <type>', 'order-saga or order-cancellation (both when absent)')
  .option('--limit <n>', 'at most this many', '100')
  .action(async (options: { state: string; type?: string; limit: string }) => {
    const query = new URLSearchParams({ state: options.state, limit: options.limit });
    if (options.type) query.set('type', options.type);
    const { sagas } = await call<{ sagas: { sagaId: string; type: string; version: number }[] }>(
      'saga-orchestrator',
      `/sagas?${query.toString()}`,
    );
    print(json(), { sagas }, () =>
      sagas.length === 0
        ? `no ${options.state} sagas`
        : tableOf(
            ['saga', 'type', 'version'],
            sagas.map((s) => [s.sagaId, s.type, s.version]),
          ),
    );
  });

program
  .command('saga')
  .description('A saga: its state and its timeline')
  .argument('<id>', "the saga's id (its order's)")
  .option('--type <type>', 'order-saga (default) or order-cancellation')
  .action(async (id: string, options: { type?: string }) => {
    const query = options.type ? `?type=${encodeURIComponent(options.type)}` : '';
    const saga = await call<SagaView>(
      'saga-orchestrator',
      `/sagas/${encodeURIComponent(id)}${query}`,
    );
    print(json(), saga, () =>
      [
        `${saga.type} ${saga.sagaId}: ${saga.state}${saga.step ? ` at ${saga.step}` : ''}${saga.compensating ? ' (compensating)' : ''}, version ${saga.version}`,
        `started ${saga.startedAt}${saga.endedAt ? `, ended ${saga.endedAt}` : ''}${saga.problem ? `; problem: ${saga.problem}` : ''}`,
        tableOf(
          ['at', 'event', 'step', 'command', 'outcome', 'detail'],
          saga.timeline.map((t) => [t.at, t.event, t.step, t.command, t.outcome, t.detail]),
        ),
      ].join('\n'),
    );
  });

program
  .command('projections')
  .description('Each projection: its live generation, lag, and a rebuild under way')
  .action(async () => {
    const { projections } = await call<{ projections: ProjectionStatus[] }>(
      'projection-service',
      '/projections',
    );
    print(json(), { projections }, () =>
      tableOf(
        ['projection', 'generation', 'lag (events)', 'live since', 'rebuilding'],
        projections.map((p) => [
          p.name,
          p.active.generation,
          p.active.lagEvents,
          p.active.activatedAt,
          p.rebuilding
            ? `generation ${p.rebuilding.generation}, ${p.rebuilding.lagEvents} behind`
            : '',
        ]),
      ),
    );
  });

program
  .command('erase')
  .description(
    "Erase a customer's personal data everywhere (docs/privacy.md): their keys destroyed, for good",
  )
  .argument('<customerId>', "the customer's id")
  .option('--yes', 'confirmed: do not ask')
  .action(async (customerId: string, options: { yes?: boolean }) => {
    await confirm(
      `erase customer ${customerId}'s personal data everywhere (irreversible)`,
      options.yes === true,
    );
    const erased = await call<{
      customerId: string;
      keysErased: number;
      version: number;
      token: string;
    }>('payment-service', `/customers/${encodeURIComponent(customerId)}/erase`, {
      method: 'POST',
      body: {},
    });
    print(
      json(),
      erased,
      () =>
        `erased customer ${erased.customerId}: ${erased.keysErased} key(s) destroyed; recorded as DataSubjectErased (${erased.token})`,
    );
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const exit = error instanceof Exit ? error : new Exit(String(error), 1);
  process.stderr.write(`es: ${exit.message}\n`);
  process.exitCode = exit.code;
}
