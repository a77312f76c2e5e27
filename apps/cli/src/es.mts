// es, the operator's CLI (README, "The operator's CLI"): every command an authorized call to a
// service's API through the typed client generated from the system's OpenAPI document
// (@es/api-client), as the operator whose token it carries (ES_TOKEN, e.g.
// ES_TOKEN=$(pnpm -s token olga)), recorded in the services' audit trail under that identity.
// Human tables by default, --json for scripts; progress on stderr. Exit codes: 0 done; 1 the
// service refused or failed (its problem printed), or what was asked for did not happen (a
// redrive that failed, a rebuild or republish that did not finish); 2 a usage error (a missing
// token, a destructive command not confirmed); 3 a service not reachable.
//   pnpm es stream order/<id> [--as-of T | --at-version N] [--raw]
//   pnpm es sagas --state PARKED        pnpm es saga <id> [--type order-cancellation]
//   pnpm es saga retry <id>             pnpm es order <id>
//   pnpm es dlq list [--service inventory]
//   pnpm es dlq show <service> <id>     pnpm es dlq redrive <service> [<id>] [--consumer c] [--dry-run]
//   pnpm es dlq discard <service> <id> --reason "..." [--dry-run] [--yes]
//   pnpm es projections                 pnpm es rebuild <projection> [--no-wait]
//   pnpm es republish <service> [--stream-type order --stream-id <id>] [--no-wait]
//   pnpm es erase <customerId> [--yes]
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline/promises';
import { Command, Option } from 'commander';
import Table from 'cli-table3';
import {
  SERVICES,
  ServiceRefusal,
  ServiceUnreachable,
  answerOf,
  answerOrMissing,
  clientAs,
  orderAcrossServices,
  serviceUrl,
  servicesServing,
  streamOf,
  type ServiceName,
} from '@es/api-client';

/** A failure with the exit code it means. */
class Exit extends Error {
  readonly code: 1 | 2 | 3;
  constructor(message: string, code: 1 | 2 | 3) {
    super(message);
    this.code = code;
  }
}

/** ES_<SERVICE>_URL (e.g. ES_PAYMENT_SERVICE_URL), else the port `npm start` gives it. */
const baseUrl = (service: ServiceName) => serviceUrl(service);

function token(): string {
  const value = process.env['ES_TOKEN'];
  if (!value)
    throw new Exit(
      "no token: set ES_TOKEN to an operator's access token, e.g. ES_TOKEN=$(pnpm -s token olga)",
      2,
    );
  return value;
}

/** A service by its name or its first word: `inventory` is inventory-service, `saga` the orchestrator. */
function serviceNamed(name: string): ServiceName {
  const found = (Object.keys(SERVICES) as ServiceName[]).find(
    (s) => s === name || s.split('-')[0] === name,
  );
  if (!found)
    throw new Exit(
      `no service '${name}': one of ${Object.keys(SERVICES).join(', ')} (or its first word)`,
      2,
    );
  return found;
}

/** The services that park dead letters (their API has /dead-letters). */
const DEAD_LETTER_SERVICES = servicesServing('/dead-letters');

/** A typed client of one service, as the operator whose token ES_TOKEN holds. */
const client = <S extends ServiceName>(service: S) => clientAs(service, baseUrl(service), token());

type Answer = { data?: unknown; error?: unknown; response: Response };

/** What a call answered (a 404 is a refusal here). */
const answer = <R extends Answer>(service: ServiceName, pending: Promise<R>) =>
  answerOf(service, baseUrl(service), pending);

/** What a call answered, undefined for a 404. */
const found = <R extends Answer>(service: ServiceName, pending: Promise<R>) =>
  answerOrMissing(service, baseUrl(service), pending);

function print(json: boolean, value: unknown, table: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${table()}\n`);
}

type Cell = string | number | boolean | null | undefined;

function tableOf(head: string[], rows: Cell[][]): string {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows)
    table.push(row.map((cell) => (cell === null || cell === undefined ? '' : String(cell))));
  return table.toString();
}

const clip = (text: string | null | undefined, max = 60) =>
  text && text.length > max ? `${text.slice(0, max - 1)}…` : text;

/** A destructive action goes on only when confirmed: --yes, or "yes" typed at a terminal. */
async function confirm(what: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new Exit(`${what}: not confirmed (give --yes)`, 2);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  const answered = await prompt.question(`${what}. Type yes to go on: `);
  prompt.close();
  if (answered.trim() !== 'yes') throw new Exit(`${what}: not confirmed`, 2);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A live progress line on stderr: redrawn in place at a terminal; elsewhere (a log, a test) a
 * line each second at most. Rate and ETA from what was done since it started.
 */
class Progress {
  // Undefined when stderr is no terminal, whatever its type says.
  private readonly tty = (process.stderr.isTTY as boolean | undefined) === true;
  private readonly started = Date.now();
  private firstDone: number | undefined;
  private lastLine = '';
  private lastAt = 0;

  /** `done` of `total` units (events, messages); `note` after the figures. */
  show(label: string, done: number, total: number | null, note = ''): void {
    this.firstDone ??= done;
    const seconds = (Date.now() - this.started) / 1000;
    const rate = seconds > 0 ? (done - this.firstDone) / seconds : 0;
    const fraction = total ? Math.min(1, done / total) : 0;
    const width = 24;
    const full = Math.round(fraction * width);
    const bar = `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.floor(fraction * 100)).padStart(3)}%`;
    const eta =
      total !== null && rate > 0 && done < total ? `, ETA ${duration((total - done) / rate)}` : '';
    const line = `${label} ${bar} ${done}/${total ?? '?'}, ${Math.round(rate)}/s${eta}${note ? `; ${note}` : ''}`;
    if (this.tty) process.stderr.write(`\r\x1b[2K${line}`);
    else if (line !== this.lastLine && Date.now() - this.lastAt >= 1000) {
      process.stderr.write(`${line}\n`);
      this.lastAt = Date.now();
    }
    this.lastLine = line;
  }

  end(): void {
    if (this.tty && this.lastLine) process.stderr.write('\n');
  }
}

function duration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60
    ? `${minutes} min ${Math.round(seconds % 60)} s`
    : `${(minutes / 60).toFixed(1)} h`;
}

const program = new Command('es')
  .description(
    "The operator's console on the command line: every command a call to a service's API",
  )
  .option('--json', 'JSON for scripts, not tables')
  .showHelpAfterError();
const json = () => program.opts<{ json?: boolean }>().json === true;

program
  .command('stream')
  .description(
    "A stream's events with their metadata (upcast, or as stored with --raw) and the state folded from them",
  )
  .argument(
    '<stream>',
    'its type and id: order/<id>, stock-item/<sku>, account/<customerId>, order-saga/<id>, ...',
  )
  .option('--as-of <instant>', 'as it was at this instant (ISO-8601)')
  .option('--at-version <n>', 'as it was at this version')
  .option('--raw', 'the events as stored: their schema versions, personal fields sealed')
  .action(async (named: string, options: { asOf?: string; atVersion?: string; raw?: boolean }) => {
    const at = named.indexOf('/');
    if (at <= 0 || at === named.length - 1)
      throw new Exit(`a stream is <type>/<id>, e.g. order/01939a5e-..., got '${named}'`, 2);
    const type = named.slice(0, at);
    const id = named.slice(at + 1);
    const { service, stream } = await streamOf(baseUrl, token(), type, id, {
      ...(options.asOf !== undefined ? { asOf: options.asOf } : {}),
      ...(options.atVersion !== undefined ? { atVersion: Number(options.atVersion) } : {}),
      raw: options.raw === true,
    });
    print(json(), { service, ...stream }, () =>
      [
        `${type}/${id} (${service}): version ${stream.version}${options.asOf ? ` as of ${options.asOf}` : ''}${options.atVersion ? ` at version ${options.atVersion}` : ''}${stream.raw ? ', events as stored' : ''}`,
        tableOf(
          ['version', 'type', 'recorded', 'actor', 'correlation', 'data'],
          stream.events.map((e) => [
            e.streamVersion,
            `${e.type} v${e.schemaVersion}`,
            e.recordedAt,
            typeof e.metadata['actor'] === 'string' ? e.metadata['actor'] : '',
            e.metadata.correlationId,
            JSON.stringify(e.data),
          ]),
        ),
        `state: ${JSON.stringify(stream.state, null, 2)}`,
      ].join('\n'),
    );
  });

const SAGA_STATES = ['RUNNING', 'WAITING', 'COMPENSATING', 'PARKED', 'COMPLETED', 'COMPENSATED'];
const SAGA_TYPES = ['order-saga', 'order-cancellation'] as const;
type SagaType = (typeof SAGA_TYPES)[number];

program
  .command('sagas')
  .description('The sagas in a state, oldest first')
  .addOption(new Option('--state <state>', 'their state').choices(SAGA_STATES).default('PARKED'))
  .addOption(new Option('--type <type>', 'one type (both when absent)').choices(SAGA_TYPES))
  .option('--limit <n>', 'at most this many', '100')
  .action(async (options: { state: string; type?: SagaType; limit: string }) => {
    const { sagas } = await answer(
      'saga-orchestrator',
      client('saga-orchestrator').GET('/sagas', {
        params: {
          query: {
            state: options.state as 'PARKED',
            limit: Number(options.limit),
            ...(options.type ? { type: options.type } : {}),
          },
        },
      }),
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

async function sagaOf(id: string, type: SagaType = 'order-saga') {
  return found(
    'saga-orchestrator',
    client('saga-orchestrator').GET('/sagas/{id}', {
      params: { path: { id }, query: { type } },
    }),
  );
}
type SagaView = NonNullable<Awaited<ReturnType<typeof sagaOf>>>;

const sagaHeadline = (saga: SagaView) =>
  `${saga.type} ${saga.sagaId}: ${saga.state}${saga.step ? ` at ${saga.step}` : ''}${saga.compensating ? ' (compensating)' : ''}, version ${saga.version}`;

const timelineTable = (saga: SagaView) =>
  tableOf(
    ['at', 'event', 'step', 'command', 'outcome', 'detail'],
    saga.timeline.map((t) => [t.at, t.event, t.step, t.command, t.outcome, t.detail]),
  );

const saga = program
  .command('saga')
  .description('A saga: its state and its timeline (and `saga retry <id>`)')
  .argument('<id>', "the saga's id (its order's)")
  .addOption(new Option('--type <type>', 'its type').choices(SAGA_TYPES).default('order-saga'))
  .action(async (id: string, options: { type: SagaType }) => {
    const view = await sagaOf(id, options.type);
    if (!view) throw new Exit(`saga-orchestrator answered 404: no ${options.type} ${id}`, 1);
    print(json(), view, () =>
      [
        sagaHeadline(view),
        `started ${view.startedAt}${view.endedAt ? `, ended ${view.endedAt}` : ''}${view.problem ? `; problem: ${view.problem}` : ''}`,
        timelineTable(view),
      ].join('\n'),
    );
  });

saga
  .command('retry')
  .description('Resume a parked saga from the step it stopped at')
  .argument('<id>', "the saga's id")
  .addOption(new Option('--type <type>', 'its type').choices(SAGA_TYPES).default('order-saga'))
  .action(async (id: string, options: { type: SagaType }) => {
    const resumed = await answer(
      'saga-orchestrator',
      client('saga-orchestrator').POST('/sagas/{id}/retry', {
        params: { path: { id }, query: { type: options.type } },
        body: {},
      }),
    );
    print(
      json(),
      resumed,
      () => `resumed ${options.type} ${resumed.sagaId}: now at version ${resumed.version}`,
    );
  });

program
  .command('order')
  .description(
    'One order across the services: its events, its sagas, its payment and stock, its read models and their lag',
  )
  .argument('<id>', "the order's id")
  .action(async (id: string) => {
    const [{ events, state, details, sagas, payment, summary }, projections] = await Promise.all([
      orderAcrossServices(baseUrl, token(), id),
      answer('projection-service', client('projection-service').GET('/projections')),
    ]);
    if (events.length === 0) throw new Exit(`order-service answered 404: no order ${id}`, 1);
    const readModels = projections.projections.map((p) => ({
      projection: p.name,
      generation: p.active.generation,
      lagEvents: p.active.lagEvents,
      lagSeconds: p.active.lagSeconds,
    }));
    print(
      json(),
      {
        orderId: id,
        state: state ?? null,
        events,
        sagas,
        payment: payment ?? null,
        summary: summary ?? null,
        documents: { 'order-details': details ?? null, 'order-summaries': summary ?? null },
        readModels,
      },
      () =>
        [
          state
            ? `order ${id}: ${state.status}, customer ${state.customerId}, total ${state.total}, version ${state.version}`
            : `order ${id}`,
          '',
          `events (order-service):`,
          tableOf(
            ['version', 'type', 'recorded', 'actor', 'correlation'],
            events.map((e) => [
              e.streamVersion,
              `${e.type} v${e.schemaVersion}`,
              e.recordedAt,
              typeof e.metadata['actor'] === 'string' ? e.metadata['actor'] : '',
              e.metadata.correlationId,
            ]),
          ),
          ...sagas.flatMap((s) => ['', sagaHeadline(s), timelineTable(s)]),
          '',
          payment
            ? `payment (payment-service): ${payment.status}, amount ${payment.amount}, version ${payment.version}`
            : 'payment (payment-service): none',
          summary
            ? tableOf(
                ['stock (order-summaries)', 'quantity', 'status'],
                summary.stock.map((s) => [s.sku, s.quantity, s.status]),
              )
            : 'order summary (projection-service): none yet',
          details
            ? `order-details document: ${details.status}, version ${details.version}, total ${details.total}`
            : 'order-details document: none yet',
          tableOf(
            ['read model', 'generation', 'lag (events)', 'lag (s)'],
            readModels.map((r) => [r.projection, r.generation, r.lagEvents, r.lagSeconds]),
          ),
        ].join('\n'),
    );
  });

const dlq = program.command('dlq').description('Dead letters: list, show, redrive, discard');

dlq
  .command('list')
  .description("Dead letters of every service (or one's), oldest first")
  .option('--service <service>', 'one service (order, inventory, payment, saga)')
  .option('--consumer <consumer>', 'one consumer')
  .option('--topic <topic>', 'one topic')
  .option('--key <key>', "one key's")
  .addOption(
    new Option('--status <status>', 'their status')
      .choices(['parked', 'redriven', 'discarded'])
      .default('parked'),
  )
  .option('--limit <n>', 'at most this many per service', '100')
  .action(
    async (options: {
      service?: string;
      consumer?: string;
      topic?: string;
      key?: string;
      status: 'parked';
      limit: string;
    }) => {
      const services = options.service ? [serviceNamed(options.service)] : DEAD_LETTER_SERVICES;
      const query = {
        status: options.status,
        limit: Number(options.limit),
        ...(options.consumer ? { consumer: options.consumer } : {}),
        ...(options.topic ? { topic: options.topic } : {}),
        ...(options.key ? { key: options.key } : {}),
      };
      const lists = await Promise.all(
        services.map(async (service) => {
          const { deadLetters } = await answer(
            service,
            // Every service with dead letters serves the same operations (@es/http-api).
            client(service as 'inventory-service').GET('/dead-letters', { params: { query } }),
          );
          return deadLetters.map((letter) => ({ service, ...letter }));
        }),
      );
      const letters = lists.flat();
      print(json(), { deadLetters: letters }, () =>
        letters.length === 0
          ? `no ${options.status} dead letters`
          : tableOf(
              ['service', 'id', 'consumer', 'topic', 'key', 'cause', 'attempts', 'parked', 'error'],
              letters.map((l) => [
                l.service,
                l.id,
                l.consumer,
                l.topic,
                l.key,
                l.cause,
                l.attempts,
                l.parkedAt,
                clip(l.error),
              ]),
            ),
      );
    },
  );

async function letterOf(service: ServiceName, id: string) {
  return answer(
    service,
    client(service as 'inventory-service').GET('/dead-letters/{id}', { params: { path: { id } } }),
  );
}

dlq
  .command('show')
  .description('A dead letter: where it came from, why it is parked, its headers and payload')
  .argument('<service>', 'its service (order, inventory, payment, saga)')
  .argument('<id>', 'its id')
  .action(async (name: string, id: string) => {
    const service = serviceNamed(name);
    const letter = await letterOf(service, id);
    print(json(), { service, ...letter }, () =>
      [
        `${service} dead letter ${letter.id}: ${letter.status} (${letter.cause}), ${letter.attempts} attempt(s), parked ${letter.parkedAt}`,
        `consumer ${letter.consumer}, ${letter.topic}[${letter.partition}]@${letter.offset}, key ${letter.key}, message ${letter.messageId}`,
        ...(letter.error ? [`error: ${letter.error}`] : []),
        ...(letter.resolvedAt
          ? [
              `resolved ${letter.resolvedAt} by ${letter.resolvedBy ?? '?'}: ${letter.resolution ?? ''}`,
            ]
          : []),
        `headers: ${JSON.stringify(letter.headers, null, 2)}`,
        `payload: ${JSON.stringify(letter.payload ?? letter.raw, null, 2)}`,
      ].join('\n'),
    );
  });

dlq
  .command('redrive')
  .description(
    "Hand parked letters to their consumer again: one by its id, or a consumer's (a key's) in order",
  )
  .argument('<service>', 'their service (order, inventory, payment, saga)')
  .argument('[id]', "one letter's id (else give --consumer)")
  .option('--consumer <consumer>', "the consumer whose letters to redrive, in their keys' order")
  .option('--topic <topic>', 'only those of this topic')
  .option('--key <key>', "only this key's")
  .option('--limit <n>', 'at most this many', '100')
  .option('--dry-run', 'say what would be done, and do nothing')
  .action(
    async (
      name: string,
      id: string | undefined,
      options: {
        consumer?: string;
        topic?: string;
        key?: string;
        limit: string;
        dryRun?: boolean;
      },
    ) => {
      const service = serviceNamed(name) as 'inventory-service';
      const dryRun = options.dryRun === true;
      if (id === undefined && options.consumer === undefined)
        throw new Exit('redrive what: give a letter id, or --consumer (with --topic, --key)', 2);
      const outcome = await answer(
        service,
        id !== undefined
          ? client(service).POST('/dead-letters/{id}/redrive', {
              params: { path: { id } },
              body: { dryRun },
            })
          : client(service).POST('/consumers/{consumer}/dead-letters/redrive', {
              params: { path: { consumer: options.consumer ?? '' } },
              body: {
                dryRun,
                limit: Number(options.limit),
                ...(options.topic ? { topic: options.topic } : {}),
                ...(options.key ? { key: options.key } : {}),
              },
            }),
      );
      const failed = outcome.letters.filter(
        (l) => l.outcome === 'failed' || l.outcome === 'would-fail',
      );
      print(json(), { service, ...outcome }, () =>
        [
          outcome.letters.length === 0
            ? 'no parked letters to redrive'
            : tableOf(
                ['id', 'consumer', 'key', 'event', 'outcome', 'error'],
                outcome.letters.map((l) => [
                  l.id,
                  l.consumer,
                  l.key,
                  l.eventType
                    ? `${l.eventType} v${l.schemaVersion}${l.upcastTo ? ` -> v${l.upcastTo}` : ''}`
                    : '',
                  l.outcome,
                  clip(l.error),
                ]),
              ),
          dryRun
            ? `dry run: nothing was done (${outcome.letters.length} letter(s) looked at)`
            : `${outcome.letters.length - failed.length} handled, ${failed.length} failed`,
        ].join('\n'),
      );
      if (failed.length > 0) process.exitCode = 1;
    },
  );

dlq
  .command('discard')
  .description('Give up on a parked letter, with a reason: its message will never be handled')
  .argument('<service>', 'its service (order, inventory, payment, saga)')
  .argument('<id>', 'its id')
  .requiredOption('--reason <reason>', 'why (recorded with your identity)')
  .option('--dry-run', 'show the letter that would be discarded, and do nothing')
  .option('--yes', 'confirmed: do not ask')
  .action(
    async (
      name: string,
      id: string,
      options: { reason: string; dryRun?: boolean; yes?: boolean },
    ) => {
      const service = serviceNamed(name) as 'inventory-service';
      if (options.dryRun === true) {
        const letter = await letterOf(service, id);
        print(
          json(),
          { dryRun: true, service, letter },
          () =>
            `dry run: would discard ${service} dead letter ${letter.id} (${letter.status}; ${letter.consumer}, key ${letter.key}, message ${letter.messageId}): "${options.reason}"`,
        );
        return;
      }
      await confirm(`discard ${service} dead letter ${id} for good`, options.yes === true);
      const letter = await answer(
        service,
        client(service).POST('/dead-letters/{id}/discard', {
          params: { path: { id } },
          body: { reason: options.reason },
        }),
      );
      print(
        json(),
        { service, ...letter },
        () =>
          `discarded ${service} dead letter ${letter.id} (message ${letter.messageId}) by ${letter.resolvedBy ?? '?'}: ${letter.resolution ?? ''}`,
      );
    },
  );

program
  .command('projections')
  .description('Each projection: its live generation, lag, and a rebuild under way')
  .action(async () => {
    const { projections } = await answer(
      'projection-service',
      client('projection-service').GET('/projections'),
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
            ? `generation ${p.rebuilding.generation}, ${Math.floor(p.rebuilding.progress * 100)}%, ${p.rebuilding.lagEvents} behind`
            : '',
        ]),
      ),
    );
  });

program
  .command('rebuild')
  .description(
    'Build a projection anew beside the live one, and watch it until it takes over (no downtime)',
  )
  .argument('<projection>', "the projection's name (es projections lists them)")
  .option('--no-wait', 'start it, and do not watch')
  .option('--timeout <seconds>', 'give up watching after this long', '600')
  .action(async (name: string, options: { wait: boolean; timeout: string }) => {
    const api = client('projection-service');
    const started = await answer(
      'projection-service',
      api.POST('/projections/{name}/rebuild', { params: { path: { name } }, body: {} }),
    );
    const generation = started.rebuilding.generation;
    if (!options.wait) {
      print(json(), started, () => `${name}: generation ${generation} is being built`);
      return;
    }
    const progress = new Progress();
    const until = Date.now() + Number(options.timeout) * 1000;
    let total: number | null = null;
    for (;;) {
      const { projections } = await answer('projection-service', api.GET('/projections'));
      const projection = projections.find((p) => p.name === name);
      if (!projection) throw new Exit(`projection-service no longer lists ${name}`, 1);
      if (projection.active.generation >= generation) {
        progress.end();
        print(
          json(),
          projection,
          () =>
            `${name}: generation ${generation} took over (${projection.active.documents} documents, ${projection.active.lagEvents} events behind)`,
        );
        return;
      }
      const rebuilding = projection.rebuilding;
      if (rebuilding?.generation !== generation) {
        progress.end();
        throw new Exit(
          `${name}: generation ${generation} is no longer being built, and did not take over (generation ${projection.active.generation} is live)`,
          1,
        );
      }
      // progress is the share of the topics' events applied; with the lag, their number.
      if (rebuilding.progress < 1)
        total = Math.round(rebuilding.lagEvents / (1 - rebuilding.progress));
      const done = total === null ? 0 : total - rebuilding.lagEvents;
      progress.show(
        `${name} generation ${generation}`,
        done,
        total,
        rebuilding.held ??
          (rebuilding.phase ? rebuilding.phase : `${rebuilding.documents} documents`),
      );
      if (Date.now() > until) {
        progress.end();
        throw new Exit(
          `${name}: generation ${generation} had not taken over after ${options.timeout} s; it goes on (es projections)`,
          1,
        );
      }
      await sleep(500);
    }
  });

program
  .command('republish')
  .description(
    "Publish a service's events to Kafka again (the whole store, or one stream's versions), and watch until they are all in Kafka",
  )
  .argument('<service>', 'order, inventory, payment or saga')
  .option('--stream-type <type>', 'only this stream type (with --stream-id: one stream)')
  .option('--stream-id <id>', "one stream's")
  .option('--from <version>', "the stream's first version (included)")
  .option('--to <version>', "the stream's last version (included)")
  .option('--no-wait', 'start it, and do not watch')
  .option('--timeout <seconds>', 'give up watching after this long', '600')
  .action(
    async (
      name: string,
      options: {
        streamType?: string;
        streamId?: string;
        from?: string;
        to?: string;
        wait: boolean;
        timeout: string;
      },
    ) => {
      const service = serviceNamed(name) as 'order-service';
      const api = client(service);
      const started = await answer(
        service,
        api.POST('/republish', {
          body: {
            ...(options.streamType ? { streamType: options.streamType } : {}),
            ...(options.streamId ? { streamId: options.streamId } : {}),
            ...(options.from ? { fromVersion: Number(options.from) } : {}),
            ...(options.to ? { toVersion: Number(options.to) } : {}),
          },
        }),
      );
      if (!options.wait) {
        print(json(), started, () => `${service}: republish ${started.id} ${started.status}`);
        return;
      }
      const progress = new Progress();
      const until = Date.now() + Number(options.timeout) * 1000;
      for (;;) {
        const run = await answer(
          service,
          api.GET('/republish/{id}', { params: { path: { id: started.id } } }),
        );
        if (run.status === 'completed' || run.status === 'failed' || run.status === 'interrupted') {
          progress.end();
          print(json(), run, () =>
            run.status === 'completed'
              ? `${service}: republished ${run.events} event(s), every one in Kafka (republish ${run.id})`
              : `${service}: republish ${run.id} ${run.status} after ${run.events} event(s)${run.error ? `: ${run.error}` : ''}`,
          );
          if (run.status !== 'completed') process.exitCode = 1;
          return;
        }
        progress.show(`${service} republish`, run.events, run.total, run.status);
        if (Date.now() > until) {
          progress.end();
          throw new Exit(
            `${service}: republish ${run.id} still ${run.status} after ${options.timeout} s; it goes on`,
            1,
          );
        }
        await sleep(500);
      }
    },
  );

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
    const erased = await answer(
      'payment-service',
      client('payment-service').POST('/customers/{customerId}/erase', {
        params: { path: { customerId }, header: { 'Idempotency-Key': randomUUID() } },
        body: {},
      }),
    );
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
  const exit =
    error instanceof Exit
      ? error
      : error instanceof ServiceUnreachable
        ? new Exit(error.message, 3)
        : error instanceof ServiceRefusal
          ? new Exit(error.message, 1)
          : new Exit(String(error), 1);
  process.stderr.write(`es: ${exit.message}\n`);
  process.exitCode = exit.code;
}
