// The operator's web console (docs/console.md): server-rendered pages over the services' APIs,
// each action an authorized call to a service as the signed-in operator (recorded in the
// services' audit trail under their identity; no database is touched from here), destructive
// ones confirmed first. Run straight from its TypeScript source (Node's type stripping) by
// `npm start`, on 127.0.0.1:3006.
//
//   CONSOLE_HOST, CONSOLE_PORT   where it listens (127.0.0.1:3006; HOST and PORT too)
//   CONSOLE_URL                  how browsers reach it (http://CONSOLE_HOST:CONSOLE_PORT): its
//                                login callback is CONSOLE_URL/auth/callback
//   CONSOLE_CLIENT_ID            its client at the OpenID provider (es-console)
//   CONSOLE_CLIENT_SECRET        that client's secret; else read from ES_IDENTITY_SECRETS (the
//                                local provider's secrets file, as the native stack runs it)
//   AUTH_ISSUER, AUTH_AUDIENCE, AUTH_JWKS_URL   the provider, as the services have them
//   CONSOLE_AUTH_INTERNAL_URL    where this server reaches the provider, when not at AUTH_ISSUER's
//                                address (docker-compose: http://keycloak:8080)
//   ES_<SERVICE>_URL             each service (the `npm start` ports by default)
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
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
import { authConfig } from '@es/runtime-config';
import {
  Auth,
  LOGIN_COOKIE,
  LoginRefused,
  SESSION_COOKIE,
  cookie,
  cookiesOf,
  type Session,
} from './auth.mts';
import { Html, STYLE, html, layout, postForm, sparkline, table, type Page } from './html.mts';
import { MetricsHistory } from './metrics.mts';
import { swimLanes } from './timeline.mts';

const host = process.env['CONSOLE_HOST'] ?? process.env['HOST'] ?? '127.0.0.1';
const port = Number(process.env['CONSOLE_PORT'] ?? process.env['PORT'] ?? 3006);
const consoleUrl = (process.env['CONSOLE_URL'] ?? `http://${host}:${port}`).replace(/\/$/, '');
const clientId = process.env['CONSOLE_CLIENT_ID'] ?? 'es-console';

function clientSecret(): string {
  const given = process.env['CONSOLE_CLIENT_SECRET'];
  if (given) return given;
  const file = process.env['ES_IDENTITY_SECRETS'];
  if (file && existsSync(file)) {
    const secrets = JSON.parse(readFileSync(file, 'utf8')) as { clients?: Record<string, string> };
    const secret = secrets.clients?.[clientId];
    if (secret) return secret;
  }
  throw new Error(
    `CONSOLE_CLIENT_SECRET is not set, and ES_IDENTITY_SECRETS has no secret for ${clientId}`,
  );
}

const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];
const DEAD_LETTER_SERVICES = servicesServing('/dead-letters');
const url = (service: ServiceName) => serviceUrl(service);

const auth = new Auth({
  auth: authConfig(),
  clientId,
  clientSecret: clientSecret(),
  redirectUri: `${consoleUrl}/auth/callback`,
  ...(process.env['CONSOLE_AUTH_INTERNAL_URL']
    ? { internalUrl: process.env['CONSOLE_AUTH_INTERNAL_URL'] }
    : {}),
});
const history = new MetricsHistory(
  SERVICE_NAMES.map((name) => ({ name, url: url(name) })),
  () => auth.anyToken(),
  Number(process.env['CONSOLE_METRICS_EVERY_MS'] ?? 5_000),
);

/** What a request handler needs: the operator's session and their clients. */
class Operator {
  readonly session: Session;
  constructor(session: Session) {
    this.session = session;
  }
  client<S extends ServiceName>(service: S) {
    return clientAs(service, url(service), this.session.accessToken);
  }
  answer<R extends { data?: unknown; error?: unknown; response: Response }>(
    service: ServiceName,
    pending: Promise<R>,
  ) {
    return answerOf(service, url(service), pending);
  }
  found<R extends { data?: unknown; error?: unknown; response: Response }>(
    service: ServiceName,
    pending: Promise<R>,
  ) {
    return answerOrMissing(service, url(service), pending);
  }
  page(part: Omit<Page, 'user' | 'csrf'>): Html {
    return layout({ ...part, user: this.session.user, csrf: this.session.csrf });
  }
}

const notice = (text: string | Html, problem = false) =>
  html`<p class="notice${problem ? ' problem' : ''}" role="${problem ? 'alert' : 'status'}">
    ${text}
  </p>`;
const when = (iso: string | null | undefined) =>
  iso ? iso.replace('T', ' ').replace('Z', '') : '';
const json = (value: unknown) => html`<pre>${JSON.stringify(value, null, 2)}</pre>`;
const serviceOf = (name: string): ServiceName | undefined =>
  SERVICE_NAMES.find((s) => s === name || s.split('-')[0] === name);

// ---------------------------------------------------------------------------------------------
// Pages

async function overview(op: Operator): Promise<Html> {
  if (history.of('order-service').length === 0) await history.sampleAll();
  const [health, projections, sagaCounts] = await Promise.all([
    Promise.all(
      SERVICE_NAMES.map(async (service) => {
        try {
          const response = await fetch(`${url(service)}/health/ready`, {
            signal: AbortSignal.timeout(3_000),
          });
          return {
            service,
            ready: response.ok,
            detail: response.ok ? 'ready' : `HTTP ${response.status}`,
          };
        } catch (error) {
          return { service, ready: false, detail: `not reachable (${String(error)})` };
        }
      }),
    ),
    op.answer('projection-service', op.client('projection-service').GET('/projections')),
    Promise.all(
      (['RUNNING', 'WAITING', 'COMPENSATING', 'PARKED'] as const).map(async (state) => {
        const { sagas } = await op.answer(
          'saga-orchestrator',
          op
            .client('saga-orchestrator')
            .GET('/sagas', { params: { query: { state, limit: 500 } } }),
        );
        return [state, sagas.length] as const;
      }),
    ),
  ]);
  const parked = await Promise.all(
    DEAD_LETTER_SERVICES.map(async (service) => {
      const { deadLetters } = await op.answer(
        service,
        op.client(service as 'inventory-service').GET('/dead-letters', {
          params: { query: { status: 'parked', limit: 500 } },
        }),
      );
      return [service, deadLetters.length] as const;
    }),
  );
  const parkedOf = new Map(parked);
  const rows = health.map(({ service, ready, detail }) => {
    const samples = history.of(service);
    return [
      html`<span class="${ready ? 'ok' : 'bad'}">${detail}</span>`,
      service,
      sparkline(
        `${service} outbox backlog`,
        samples.map((s) => s.outboxBacklog),
      ),
      sparkline(
        `${service} consumer lag`,
        samples.map((s) => s.consumerLag),
      ),
      parkedOf.has(service)
        ? html`<a href="/dead-letters?service=${service}">${parkedOf.get(service)} parked</a>`
        : html`<span class="muted">none kept here</span>`,
    ];
  });
  const sagaSamples = history.of('saga-orchestrator');
  return op.page({
    title: 'Overview',
    section: 'overview',
    body: html` <h2>Services</h2>
      ${table('Each service: readiness, outbox backlog and consumer lag (last samples, every few seconds), dead letters', ['health', 'service', 'outbox backlog (messages)', 'consumer lag (messages)', 'dead letters'], rows)}
      <h2>Sagas</h2>
      <div class="cards">
        ${sagaCounts.map(
          ([state, n]) =>
            html`<div class="card">
              <h3><a href="/sagas?state=${state}">${state}</a></h3>
              <p>${n >= 500 ? '500 or more' : n} now</p>
              ${sparkline(
                `${state} sagas`,
                sagaSamples.map((s) => s.sagas[state] ?? 0),
              )}
            </div>`,
        )}
      </div>
      <h2>Projections</h2>
      ${table(
        'Read models: live generation, lag, rebuild',
        ['projection', 'status', 'generation', 'documents', 'lag (events)', 'lag (s)'],
        projections.projections.map((p) => [
          html`<a href="/projections/${p.name}">${p.name}</a>`,
          p.status,
          p.active.generation,
          p.active.documents,
          p.active.lagEvents,
          p.active.lagSeconds.toFixed(1),
        ]),
      )}`,
  });
}

async function orderPage(op: Operator, id: string): Promise<Html> {
  const { events, state, details, sagas, payment, summary } = await orderAcrossServices(
    url,
    op.session.accessToken,
    id,
  );
  if (events.length === 0)
    return op.page({
      title: `Order ${id}`,
      section: 'orders',
      body: notice(`No order ${id} in the order service.`, true),
    });
  const retry = (saga: (typeof sagas)[number]) =>
    saga.state === 'PARKED'
      ? postForm(
          `/sagas/${encodeURIComponent(saga.sagaId)}/retry`,
          op.session.csrf,
          html`<input type="hidden" name="type" value="${saga.type}" /><button type="submit">
              Retry this saga from ${saga.step ?? 'its step'}
            </button>`,
          'inline',
        )
      : '';
  return op.page({
    title: `Order ${id}`,
    section: 'orders',
    body: html` ${state ? html`<p>Status <strong>${state.status}</strong>, customer ${state.customerId}, total ${state.total}, version ${state.version}.</p>` : ''}
      <h2>Timeline</h2>
      ${swimLanes({
        orderEvents: events.map((e) => ({
          at: e.recordedAt,
          type: e.type,
          version: e.streamVersion,
        })),
        sagas,
      })}
      ${sagas.map(
        (saga) =>
          html`<h2>
              ${saga.type}:
              ${saga.state}${saga.step ? ` at ${saga.step}` : ''}${saga.compensating ? ' (compensating)' : ''}
            </h2>
            ${saga.problem ? notice(saga.problem, true) : ''}${retry(saga)}
            ${table(
              `The ${saga.type}'s steps, replies, deadlines and compensations`,
              ['at', 'event', 'step', 'command', 'outcome', 'detail'],
              saga.timeline.map((t) => [
                when(t.at),
                t.event,
                t.step,
                t.command,
                t.outcome,
                t.detail,
              ]),
            )}`,
      )}
      <h2>Events (order service)</h2>
      ${table(
        "The order's events, as recorded",
        ['version', 'type', 'recorded', 'actor', 'correlation', 'data'],
        events.map((e) => [
          html`<a
            id="event-${e.streamVersion}"
            href="/streams?type=order&amp;id=${encodeURIComponent(id)}&amp;atVersion=${e.streamVersion}"
            >${e.streamVersion}</a
          >`,
          `${e.type} v${e.schemaVersion}`,
          when(e.recordedAt),
          typeof e.metadata['actor'] === 'string' ? e.metadata['actor'] : '',
          e.metadata.correlationId,
          json(e.data),
        ]),
      )}
      <h2>Effects</h2>
      ${table('Payment (payment service)', ['status', 'amount', 'version'], payment ? [[payment.status, payment.amount, payment.version]] : [])}
      ${table('Stock (order summary)', ['sku', 'quantity', 'status'], summary ? summary.stock.map((s) => [s.sku, s.quantity, s.status]) : [])}
      <h2>Read models</h2>
      ${table(
        'Documents',
        ['read model', 'document'],
        [
          ...(details ? [['order-details', json(details)]] : []),
          ...(summary ? [['order-summaries', json(summary)]] : []),
        ],
      )}`,
  });
}

async function sagasPage(op: Operator, state: string): Promise<Html> {
  const states = [
    'RUNNING',
    'WAITING',
    'COMPENSATING',
    'PARKED',
    'COMPLETED',
    'COMPENSATED',
  ] as const;
  const chosen = states.find((s) => s === state) ?? 'PARKED';
  const { sagas } = await op.answer(
    'saga-orchestrator',
    op
      .client('saga-orchestrator')
      .GET('/sagas', { params: { query: { state: chosen, limit: 100 } } }),
  );
  return op.page({
    title: `Sagas ${chosen}`,
    section: 'sagas',
    body: html` <form method="get" action="/sagas" class="inline">
        <label for="state">State</label>
        <select id="state" name="state">
          ${states.map((s) => html`<option${s === chosen ? html` selected` : ''}>${s}</option>`)}
        </select>
        <button type="submit">Show</button>
      </form>
      ${table(
        `${chosen} sagas, oldest first`,
        ['saga', 'type', 'version'],
        sagas.map((s) => [
          html`<a href="/orders/${encodeURIComponent(s.sagaId)}">${s.sagaId}</a>`,
          s.type,
          s.version,
        ]),
      )}`,
  });
}

async function deadLettersPage(op: Operator, query: URLSearchParams): Promise<Html> {
  const only = serviceOf(query.get('service') ?? '');
  const status =
    (['parked', 'redriven', 'discarded'] as const).find((s) => s === query.get('status')) ??
    'parked';
  const lists = await Promise.all(
    (only ? [only] : DEAD_LETTER_SERVICES).map(async (service) => {
      const { deadLetters } = await op.answer(
        service,
        op
          .client(service as 'inventory-service')
          .GET('/dead-letters', { params: { query: { status, limit: 200 } } }),
      );
      return deadLetters.map((l) => ({ service, ...l }));
    }),
  );
  const letters = lists.flat();
  return op.page({
    title: 'Dead letters',
    section: 'dead-letters',
    body: html` <form method="get" action="/dead-letters" class="inline">
        <label for="service">Service</label>
        <select id="service" name="service">
          <option value="">every service</option>
          ${DEAD_LETTER_SERVICES.map((s) => html`<option${s === only ? html` selected` : ''}>${s}</option>`)}
        </select>
        <label for="status">Status</label>
        <select id="status" name="status">
          ${(['parked', 'redriven', 'discarded'] as const).map((s) => html`<option${s === status ? html` selected` : ''}>${s}</option>`)}
        </select>
        <button type="submit">Show</button>
      </form>
      ${table(
        `${letters.length} ${status} dead letter(s)`,
        ['letter', 'consumer', 'topic', 'key', 'cause', 'attempts', 'parked', 'error'],
        letters.map((l) => [
          html`<a href="/dead-letters/${l.service}/${l.id}">${l.service} #${l.id}</a>`,
          l.consumer,
          l.topic,
          l.key,
          l.cause,
          l.attempts,
          when(l.parkedAt),
          l.error,
        ]),
      )}`,
  });
}

async function deadLetterPage(
  op: Operator,
  service: ServiceName,
  id: string,
  outcome?: Html,
): Promise<Html> {
  const letter = await op.answer(
    service,
    op
      .client(service as 'inventory-service')
      .GET('/dead-letters/{id}', { params: { path: { id } } }),
  );
  const base = `/dead-letters/${service}/${id}`;
  const parked = letter.status === 'parked';
  return op.page({
    title: `Dead letter ${service} #${id}`,
    section: 'dead-letters',
    body: html` ${outcome ?? ''}
      ${table(
        'Where it came from and why it is here',
        ['field', 'value'],
        [
          ['status', html`<strong>${letter.status}</strong> (${letter.cause})`],
          ['consumer', letter.consumer],
          [
            'topic / partition / offset',
            `${letter.topic} / ${letter.partition} / ${letter.offset}`,
          ],
          ['key', letter.key],
          ['message id', letter.messageId],
          ['attempts', letter.attempts],
          ['parked', when(letter.parkedAt)],
          ['error', letter.error],
          ...(letter.resolvedAt
            ? [
                [
                  'resolved',
                  `${when(letter.resolvedAt)} by ${letter.resolvedBy ?? '?'}: ${letter.resolution ?? ''}`,
                ],
              ]
            : []),
        ],
      )}
      ${
        parked
          ? html`<h2>Redrive</h2>
              <p>
                Hands the letter to its consumer again. Preview first: it says what a redrive would
                do, and does nothing.
              </p>
              ${postForm(`${base}/redrive`, op.session.csrf, html`<input type="hidden" name="dryRun" value="true" /><button type="submit" class="secondary">Preview the redrive</button>`, 'inline')}
              ${postForm(`${base}/redrive`, op.session.csrf, html`<input type="hidden" name="dryRun" value="false" /><button type="submit">Redrive</button>`, 'inline')}
              <h2>Discard</h2>
              ${postForm(
                `${base}/discard`,
                op.session.csrf,
                html`<fieldset>
                  <legend>Give up on this letter: its message will never be handled</legend>
                  <p>
                    <label for="reason">Reason (recorded with your name)</label><br /><input
                      id="reason"
                      name="reason"
                      required
                      maxlength="500"
                      size="60"
                    />
                  </p>
                  <p>
                    <input type="checkbox" id="confirm" name="confirm" value="yes" required />
                    <label for="confirm">Yes, discard it for good</label>
                  </p>
                  <button type="submit" class="danger">Discard</button>
                </fieldset>`,
              )}`
          : ''
      }
      <h2>Headers</h2>
      ${json(letter.headers)}
      <h2>Payload</h2>
      ${json(letter.payload ?? letter.raw)}`,
  });
}

async function projectionsPage(op: Operator, message?: Html): Promise<Html> {
  const { projections } = await op.answer(
    'projection-service',
    op.client('projection-service').GET('/projections'),
  );
  return op.page({
    title: 'Projections',
    section: 'projections',
    body: html`${message ?? ''}
    ${table(
      'Each read model: its live generation and a rebuild under way',
      [
        'projection',
        'status',
        'live generation',
        'documents',
        'lag (events)',
        'rebuilding',
        'rebuild',
      ],
      projections.map((p) => [
        html`<a href="/projections/${p.name}">${p.name}</a><br /><span class="muted"
            >${p.description}</span
          >`,
        p.status,
        p.active.generation,
        p.active.documents,
        p.active.lagEvents,
        p.rebuilding
          ? html`generation ${p.rebuilding.generation}:
              <progress
                max="1"
                value="${p.rebuilding.progress}"
                aria-label="${p.name} rebuild progress"
              >
                ${Math.floor(p.rebuilding.progress * 100)}%
              </progress>
              ${Math.floor(p.rebuilding.progress * 100)}%`
          : '',
        p.rebuilding
          ? ''
          : postForm(
              `/projections/${p.name}/rebuild`,
              op.session.csrf,
              html`<input
                  type="checkbox"
                  id="confirm-${p.name}"
                  name="confirm"
                  value="yes"
                  required
                />
                <label for="confirm-${p.name}">build anew</label>
                <button type="submit">Rebuild ${p.name}</button>`,
              'inline',
            ),
      ]),
    )}`,
  });
}

async function projectionPage(op: Operator, name: string, generation?: number): Promise<Html> {
  const { projections } = await op.answer(
    'projection-service',
    op.client('projection-service').GET('/projections'),
  );
  const p = projections.find((x) => x.name === name);
  if (!p)
    return op.page({
      title: `Projection ${name}`,
      section: 'projections',
      body: notice(`No projection ${name}.`, true),
    });
  const r = p.rebuilding;
  const done = generation !== undefined && p.active.generation >= generation;
  return op.page({
    title: `Projection ${name}`,
    section: 'projections',
    ...(r ? { refresh: 1 } : {}),
    body: html`<p>${p.description}</p>
      ${done ? notice(`Generation ${generation} took over: ${p.active.documents} documents, ${p.active.lagEvents} events behind.`) : ''}
      ${table('Live generation', ['generation', 'since', 'documents', 'lag (events)', 'lag (s)'], [[p.active.generation, when(p.active.activatedAt), p.active.documents, p.active.lagEvents, p.active.lagSeconds.toFixed(1)]])}
      ${
        r
          ? html`<h2>Rebuilding generation ${r.generation}</h2>
              <p>
                <progress max="1" value="${r.progress}" aria-label="rebuild progress">
                  ${Math.floor(r.progress * 100)}%
                </progress>
                <strong>${Math.floor(r.progress * 100)}%</strong>, ${r.lagEvents} events to go,
                ${r.documents}
                documents${r.phase ? `, ${r.phase}` : ''}${r.held ? html` <span class="warn">held: ${r.held}</span>` : ''}
              </p>
              <p class="muted">
                This page loads itself again every second until the new generation takes over.
              </p>`
          : html`<p class="muted">No rebuild under way.</p>`
      }`,
  });
}

async function streamPage(op: Operator, query: URLSearchParams): Promise<Html> {
  const type = query.get('type') ?? 'order';
  const id = query.get('id') ?? '';
  const asOf = query.get('asOf') ?? '';
  const atVersion = query.get('atVersion') ?? '';
  const raw = query.get('raw') === 'true';
  const form = html`<form method="get" action="/streams" class="inline">
<label for="stream-type">Type</label><input id="stream-type" name="type" required size="14" value="${type}">
<label for="stream-id">Id</label><input id="stream-id" name="id" required value="${id}">
<label for="as-of">As of</label><input id="as-of" name="asOf" placeholder="2026-12-05T10:00:00Z" value="${asOf}">
<label for="at-version">At version</label><input id="at-version" name="atVersion" inputmode="numeric" size="5" value="${atVersion}">
<input type="checkbox" id="raw" name="raw" value="true"${raw ? html` checked` : ''}><label for="raw">as stored</label>
<button type="submit">Show</button>
</form>`;
  if (!id)
    return op.page({
      title: 'Streams',
      section: 'streams',
      body: html`<p>Any stream of any service: its events with their metadata (upcast, or as stored), and the state folded from them, now or at a time or version. Types: order; stock-item, stock-return; account, payment, data-subject; order-saga, order-cancellation.</p>${form}`,
    });
  let found: Awaited<ReturnType<typeof streamOf>>;
  try {
    found = await streamOf(url, op.session.accessToken, type, id, {
      ...(asOf ? { asOf } : {}),
      ...(atVersion ? { atVersion: Number(atVersion) } : {}),
      raw,
    });
  } catch (error) {
    if (!(error instanceof ServiceRefusal)) throw error;
    return op.page({
      title: `Stream ${type}/${id}`,
      section: 'streams',
      body: html`${form}${notice(error.message, true)}`,
    });
  }
  const { service, stream } = found;
  return op.page({
    title: `Stream ${type}/${id}`,
    section: 'streams',
    body: html`${form}
<p>Written by ${service}; version ${stream.version}${atVersion ? ` (at version ${atVersion})` : ''}${asOf ? ` (as of ${asOf})` : ''}${stream.raw ? ', events as stored' : ', events upcast'}.</p>
<h2>State</h2>
${json(stream.state)}
${table(
  'Events up to there',
  ['version', 'type', 'recorded', 'data', 'metadata'],
  stream.events.map((e) => [
    html`<span id="v${e.streamVersion}">${e.streamVersion}</span>`,
    `${e.type} v${e.schemaVersion}`,
    when(e.recordedAt),
    json(e.data),
    json(e.metadata),
  ]),
)}`,
  });
}

// ---------------------------------------------------------------------------------------------
// Actions (POST, CSRF-checked)

async function redrive(
  op: Operator,
  service: ServiceName,
  id: string,
  dryRun: boolean,
): Promise<Html> {
  const outcome = await op.answer(
    service,
    op
      .client(service as 'inventory-service')
      .POST('/dead-letters/{id}/redrive', { params: { path: { id } }, body: { dryRun } }),
  );
  const failed = outcome.letters.some((l) => l.outcome === 'failed' || l.outcome === 'would-fail');
  const result = html`${notice(dryRun ? 'Preview: nothing was done.' : failed ? 'The redrive failed: the letter stays parked.' : 'Redriven.', failed)}
  ${table(
    dryRun ? 'What a redrive would do' : 'What the redrive did',
    ['letter', 'event', 'outcome', 'error'],
    outcome.letters.map((l) => [
      l.id,
      l.eventType
        ? `${l.eventType} v${l.schemaVersion}${l.upcastTo ? ` -> v${l.upcastTo}` : ''}`
        : '',
      l.outcome,
      l.error,
    ]),
  )}`;
  return deadLetterPage(op, service, id, result);
}

async function discard(
  op: Operator,
  service: ServiceName,
  id: string,
  form: URLSearchParams,
): Promise<Html> {
  const reason = (form.get('reason') ?? '').trim();
  if (form.get('confirm') !== 'yes' || !reason)
    return deadLetterPage(
      op,
      service,
      id,
      notice('Not discarded: give a reason and tick the confirmation.', true),
    );
  const letter = await op.answer(
    service,
    op
      .client(service as 'inventory-service')
      .POST('/dead-letters/{id}/discard', { params: { path: { id } }, body: { reason } }),
  );
  return deadLetterPage(
    op,
    service,
    id,
    notice(`Discarded by ${letter.resolvedBy ?? '?'}: ${letter.resolution ?? reason}`),
  );
}

// ---------------------------------------------------------------------------------------------
// The server

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** What a handled request returns: its answer is sent. */
type Sent = 'sent';

function send(
  response: ServerResponse,
  status: number,
  body: Html | string,
  headers: Record<string, string | string[]> = {},
): Sent {
  response.writeHead(status, {
    'content-type': body instanceof Html ? 'text/html; charset=utf-8' : 'text/plain; charset=utf-8',
    ...SECURITY_HEADERS,
    ...headers,
  });
  response.end(body.toString());
  return 'sent';
}

function redirect(
  response: ServerResponse,
  location: string,
  headers: Record<string, string | string[]> = {},
): Sent {
  response.writeHead(303, { location, ...SECURITY_HEADERS, ...headers });
  response.end();
  return 'sent';
}

async function formOf(request: IncomingMessage): Promise<URLSearchParams> {
  let body = '';
  for await (const chunk of request) {
    body += String(chunk);
    if (body.length > 16_384) throw new Error('the form is too large');
  }
  return new URLSearchParams(body);
}

function bare(title: string, body: Html): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>${title} - es console</title>
        <link rel="stylesheet" href="/console.css" />
      </head>
      <body>
        <main id="main">
          <h1>${title}</h1>
          ${body}
        </main>
      </body>
    </html>`;
}

async function route(request: IncomingMessage, response: ServerResponse): Promise<Sent> {
  const at = new URL(request.url ?? '/', consoleUrl);
  const path = at.pathname;
  const method = request.method ?? 'GET';
  if (path === '/console.css') {
    response.writeHead(200, {
      'content-type': 'text/css; charset=utf-8',
      'cache-control': 'max-age=300',
    });
    response.end(STYLE);
    return 'sent';
  }
  if (path === '/health') return send(response, 200, 'ok');
  if (path === '/auth/login') {
    const { url: to, loginId } = await auth.startLogin(at.searchParams.get('returnTo') ?? '/');
    return redirect(response, to, { 'set-cookie': cookie(LOGIN_COOKIE, loginId, 600, '/auth') });
  }
  if (path === '/auth/callback') {
    try {
      const { session, returnTo } = await auth.finishLogin(
        cookiesOf(request).get(LOGIN_COOKIE),
        at,
      );
      return redirect(response, returnTo, {
        'set-cookie': [
          cookie(SESSION_COOKIE, session.id, (session.expiresAt - Date.now()) / 1000),
          cookie(LOGIN_COOKIE, '', 0, '/auth'),
        ],
      });
    } catch (error) {
      const said =
        error instanceof LoginRefused ? error.message : `the login failed: ${String(error)}`;
      return send(
        response,
        403,
        bare(
          'Not signed in',
          html`${notice(said, true)}
            <p><a href="/auth/login">Sign in again</a></p>`,
        ),
      );
    }
  }
  const session = auth.sessionOf(request);
  if (!session) {
    if (method !== 'GET')
      return send(
        response,
        401,
        bare('Signed out', html`<p>Your session has ended. <a href="/auth/login">Sign in</a></p>`),
      );
    return redirect(response, `/auth/login?returnTo=${encodeURIComponent(path + at.search)}`);
  }
  const op = new Operator(session);
  let form: URLSearchParams | undefined;
  if (method === 'POST') {
    form = await formOf(request);
    if (form.get('csrf') !== session.csrf)
      return send(
        response,
        403,
        bare(
          'Refused',
          notice('This form is not from your session: reload the page and try again.', true),
        ),
      );
  } else if (method !== 'GET') return send(response, 405, 'method not allowed');

  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const [first = '', second = '', third = '', fourth = ''] = parts;
  if (path === '/logout' && form) {
    auth.endSession(session);
    return send(
      response,
      200,
      bare(
        'Signed out',
        html`<p>You are signed out of the console. <a href="/auth/login">Sign in again</a></p>`,
      ),
      { 'set-cookie': cookie(SESSION_COOKIE, '', 0) },
    );
  }
  if (path === '/') return send(response, 200, await overview(op));
  if (path === '/orders')
    return redirect(response, `/orders/${encodeURIComponent(at.searchParams.get('id') ?? '')}`);
  if (first === 'orders' && parts.length === 2)
    return send(response, 200, await orderPage(op, second));
  if (path === '/sagas')
    return send(response, 200, await sagasPage(op, at.searchParams.get('state') ?? 'PARKED'));
  if (first === 'sagas' && third === 'retry' && form) {
    const type = form.get('type') === 'order-cancellation' ? 'order-cancellation' : 'order-saga';
    await op.answer(
      'saga-orchestrator',
      op.client('saga-orchestrator').POST('/sagas/{id}/retry', {
        params: { path: { id: second }, query: { type } },
        body: {},
      }),
    );
    return redirect(response, `/orders/${encodeURIComponent(second)}`);
  }
  if (path === '/dead-letters')
    return send(response, 200, await deadLettersPage(op, at.searchParams));
  if (first === 'dead-letters' && parts.length >= 3) {
    const service = serviceOf(second);
    if (!service || !DEAD_LETTER_SERVICES.includes(service))
      return send(
        response,
        404,
        op.page({
          title: 'Dead letters',
          section: 'dead-letters',
          body: notice(`No service ${second} with dead letters.`, true),
        }),
      );
    const id = third;
    if (parts.length === 3 && !form)
      return send(response, 200, await deadLetterPage(op, service, id));
    if (fourth === 'redrive' && form)
      return send(response, 200, await redrive(op, service, id, form.get('dryRun') !== 'false'));
    if (fourth === 'discard' && form)
      return send(response, 200, await discard(op, service, id, form));
  }
  if (path === '/projections') return send(response, 200, await projectionsPage(op));
  if (first === 'projections' && parts.length === 2 && !form) {
    const generation = Number(at.searchParams.get('generation') ?? NaN);
    return send(
      response,
      200,
      await projectionPage(op, second, Number.isInteger(generation) ? generation : undefined),
    );
  }
  if (first === 'projections' && third === 'rebuild' && form) {
    if (form.get('confirm') !== 'yes')
      return send(
        response,
        400,
        await projectionsPage(op, notice('Not rebuilt: tick the confirmation.', true)),
      );
    const started = await op.answer(
      'projection-service',
      op
        .client('projection-service')
        .POST('/projections/{name}/rebuild', { params: { path: { name: second } }, body: {} }),
    );
    return redirect(
      response,
      `/projections/${encodeURIComponent(second)}?generation=${started.rebuilding.generation}`,
    );
  }
  if (path === '/streams') return send(response, 200, await streamPage(op, at.searchParams));
  return send(
    response,
    404,
    op.page({ title: 'Not found', section: 'overview', body: notice(`Nothing at ${path}.`, true) }),
  );
}

const server = createServer((request, response) => {
  route(request, response).catch((error: unknown) => {
    if (response.headersSent) {
      response.end();
      return;
    }
    const [status, said] =
      error instanceof ServiceRefusal
        ? [error.status === 401 ? 401 : 502, error.message]
        : error instanceof ServiceUnreachable
          ? [503, error.message]
          : [500, `the console failed: ${error instanceof Error ? error.message : String(error)}`];
    send(
      response,
      status,
      bare(
        'Something went wrong',
        html`${notice(said, true)}
          <p><a href="/">Back to the overview</a></p>`,
      ),
    );
  });
});

server.listen(port, host, () => {
  history.start();
  console.log(
    `console on ${consoleUrl} (listening on ${host}:${port}; issuer ${authConfig().issuer})`,
  );
});
const stop = () => {
  history.stop();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
