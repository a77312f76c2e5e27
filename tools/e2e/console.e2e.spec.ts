/// <reference lib="dom" />
// The operator's web console (apps/console) in a real browser: Debian's Chromium, driven by
// playwright-core (its executable path given: no browser is downloaded), against the five services and the console as `npm start` runs them. An
// operator signs in through the identity provider (authorization code + PKCE), opens an order's
// timeline, finds a stuck command in the dead letters, previews its redrive, discards the bad
// one and brings the one behind it through, and rebuilds a projection to its switch; a customer
// is turned away. Every page is checked by axe-core in the same browser (no violation), and by
// keyboard (the skip link first). Screenshots are kept in .local/artifacts/console.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium as playwright, type Browser, type Page } from 'playwright-core';
import {
  CONSOLE,
  SERVICES,
  eventually,
  loadStackEnv,
  readSideCaughtUp,
  startServices,
  workspaceRoot,
  type RunningService,
} from '@es/testing';
import { systemDriver } from './system-driver';

const root = workspaceRoot();
const artifacts = join(root, '.local', 'artifacts', 'console');
const consoleUrl = (path = '') => `http://127.0.0.1:${CONSOLE.port}${path}`;

/** Debian's Chromium, installed as the engines' packages are when it is missing. */
function chromium(): string {
  const found = () => spawnSync('bash', ['-c', 'command -v chromium']).stdout.toString().trim();
  if (!found())
    execFileSync(
      'bash',
      ['-c', `. '${root}/infra/local/common.sh' && apt_install chromium fonts-dejavu-core`],
      { stdio: 'inherit' },
    );
  const path = found();
  if (!path) throw new Error('chromium is not installed, and could not be');
  return path;
}

function password(user: string): string {
  loadStackEnv();
  const secrets = JSON.parse(readFileSync(process.env['ES_IDENTITY_SECRETS'] ?? '', 'utf8')) as {
    users: Record<string, string>;
  };
  return secrets.users[user] ?? '';
}

/** Every axe-core rule the page breaks (WCAG 2.1 A and AA, and axe's best practices). */
async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated by the browser's debugging protocol, which the pages' CSP (no script) does not
  // govern: the pages keep their policy, and the checker runs in them all the same.
  await page.evaluate(readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8'));
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document) => Promise<unknown> } })
      .axe;
    const result = (await axe.run(document)) as {
      violations: { id: string; impact: string; nodes: { target: string[] }[] }[];
    };
    return result.violations.map(
      (v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    );
  });
  return violations;
}

/** The page as it is seen (its first screen), or whole. */
async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage });
}

const text = (page: Page) => page.innerText('body');

/** Clicks what sends a form or follows a link, and waits for the page it leads to. */
async function submit(page: Page, selector: string): Promise<void> {
  await page.click(selector);
  await page.waitForLoadState('load');
}

describe('the web console, in Chromium (real services, real engines)', () => {
  let services: RunningService[] = [];
  let browser: Browser;
  let page: Page;
  const url = (name: string) => {
    const found = services.find((s) => s.name === name);
    if (!found) throw new Error(`${name} is not running`);
    return found.url('');
  };
  const { restock, stock, stuckReservation, confirmedOrder } = systemDriver((name) => url(name));

  /** Signs in through the identity provider's form; lands where the console sends it. */
  async function signIn(on: Page, user: string, secret = password(user)): Promise<void> {
    await on.goto(consoleUrl('/'));
    await on.fill('#username', user);
    await on.fill('#password', secret);
    await submit(on, 'button[type=submit]');
  }

  beforeAll(async () => {
    const executablePath = chromium();
    services = await startServices([...SERVICES, CONSOLE], {
      env: { CONSISTENCY_WAIT_MS: '20000', CONSOLE_METRICS_EVERY_MS: '1000' },
    });
    await readSideCaughtUp(url('projection-service'));
    browser = await playwright.launch({
      executablePath,
      headless: true,
      // As root (CI): Chromium's sandbox needs user namespaces this machine may not give.
      chromiumSandbox: false,
      args: ['--disable-dev-shm-usage'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 240_000);
  afterAll(async () => {
    await browser.close();
    await Promise.all(services.map((s) => s.stop()));
  });

  it('signs an operator in with the authorization code flow (a wrong password refused), accessible and keyboard-first', async () => {
    await page.goto(consoleUrl('/'));
    // Sent to the provider's login, with PKCE: the console holds the verifier.
    expect(page.url()).toMatch(/^http:\/\/127\.0\.0\.1:4400\/interaction\//);
    expect(await axeViolations(page)).toEqual([]);
    await page.fill('#username', 'olga');
    await page.fill('#password', 'not-her-password');
    await submit(page, 'button[type=submit]');
    expect(await text(page)).toContain('Wrong username or password.');
    await page.fill('#password', password('olga'));
    await submit(page, 'button[type=submit]');
    expect(page.url()).toBe(consoleUrl('/'));
    const overview = await text(page);
    expect(overview).toContain('Signed in as olga');
    expect(overview).toMatch(/ready\s+order-service/);
    expect(overview).toMatch(/order-details\s+live\s+\d+/);
    // The session is an HttpOnly cookie: no token within a script's reach.
    expect(await page.evaluate(() => document.cookie)).toBe('');
    expect(await axeViolations(page)).toEqual([]);
    // The keyboard's first stop is the skip link, which takes it to the content.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe(
      'Skip to the content',
    );
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // The charts fill as the samples come (one a second here).
    await eventually(
      async () => {
        await page.reload();
        expect(await page.$$('svg.spark polyline')).not.toHaveLength(0);
      },
      { timeoutMs: 30_000 },
    );
    await shot(page, 'overview');
  });

  it('turns a customer away: the console is for operators', async () => {
    const context = await browser.newContext();
    try {
      const alice = await context.newPage();
      await signIn(alice, 'alice');
      expect(await text(alice)).toContain('alice is not an operator');
      expect(await alice.$('nav')).toBeNull();
    } finally {
      await context.close();
    }
  });

  it("shows an order's timeline across the services, its events and read models", async () => {
    const { orderId, sku } = await confirmedOrder('WEB', 2, 150);
    // Found from the header's search, as an operator would.
    await page.goto(consoleUrl('/'));
    await page.fill('#find-order', orderId);
    await submit(page, 'form.find button');
    expect(page.url()).toBe(consoleUrl(`/orders/${orderId}`));
    await eventually(
      async () => {
        await page.reload();
        const shown = await text(page);
        expect(shown).toContain('Status CONFIRMED');
        expect(shown).toContain('order-saga: COMPLETED');
        expect(shown).toMatch(/CAPTURED\s+300/);
        expect(shown).toMatch(new RegExp(`${sku}\\s+2\\s+COMMITTED`));
      },
      { timeoutMs: 30_000 },
    );
    // The swim lanes: a mark for each event, an arrow for each command and its reply.
    const marks = await page.$$eval('svg.timeline circle title', (titles) =>
      titles.map((t) => t.textContent),
    );
    expect(marks).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/OrderCreated \(version 1\)/),
        expect.stringMatching(/ReserveStock: success/),
        expect.stringMatching(/AuthorizePayment: success/),
        expect.stringMatching(/order-saga: SagaCompleted/),
      ]),
    );
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, 'order');
    await shot(page, 'order-whole', true);
    // Each event links to the stream as of its version.
    await submit(page, 'a#event-1');
    const stream = await text(page);
    expect(stream).toContain('Written by order-service; version 1 (at version 1), events upcast.');
    expect(stream).toContain('"status": "PENDING"');
    // Any stream of any service: the stock item's, from the inventory service.
    await page.fill('#stream-type', 'stock-item');
    await page.fill('#stream-id', sku);
    await page.fill('#at-version', '');
    await submit(page, 'form.inline button');
    expect(await text(page)).toMatch(/Written by inventory-service; version \d+, events upcast\./);
    expect(await axeViolations(page)).toEqual([]);
  });

  it('finds a stuck command, previews its redrive, discards the bad one and redrives the one behind it', async () => {
    const sku = `SKU-WEB-${randomUUID().slice(0, 8)}`;
    const sagaId = `web-dlq-${randomUUID().slice(0, 8)}`;
    await restock(sku, 5);
    await stuckReservation(sagaId, sku, 2);
    const row = (messageId: string) =>
      page.$$eval(
        'table tbody tr',
        (rows, id) =>
          rows
            .filter((r) => (r as HTMLElement).innerText.includes(id))
            .map((r) => r.querySelector('a')?.getAttribute('href') ?? ''),
        messageId,
      );
    let head = '';
    let behind = '';
    await eventually(
      async () => {
        await page.goto(consoleUrl('/dead-letters?service=inventory-service'));
        const shown = await text(page);
        expect(shown).toContain(sagaId);
        const links = await page.$$eval('table tbody tr', (rows) =>
          rows.map((r) => [
            (r as HTMLElement).innerText,
            r.querySelector('a')?.getAttribute('href') ?? '',
          ]),
        );
        const mine = links.filter(([t]) => t?.includes(sagaId));
        expect(mine).toHaveLength(2);
        [head = '', behind = ''] = mine.map(([, href]) => href ?? '');
      },
      { timeoutMs: 60_000 },
    );
    expect(await row(sagaId)).toHaveLength(2);
    await page.goto(consoleUrl(head));
    expect(await text(page)).toMatch(/status\s+parked \(failed\)/);
    expect(await axeViolations(page)).toEqual([]);
    await shot(page, 'dead-letter');

    // The preview does nothing.
    await submit(page, 'button:has-text("Preview the redrive")');
    expect(await text(page)).toContain('Preview: nothing was done.');
    expect(await text(page)).toMatch(/would-redrive/);
    // A discard needs its reason and its confirmation (the browser holds the form back without).
    await page.fill('#reason', 'malformed: the saga sent it again whole');
    await page.check('#confirm');
    await submit(page, 'button:has-text("Discard")');
    expect(await text(page)).toMatch(/Discarded by \S+: malformed: the saga sent it again whole/);
    expect(await text(page)).toMatch(/status\s+discarded/);

    // The one behind it, brought through.
    await page.goto(consoleUrl(behind));
    await submit(page, 'button:text-is("Redrive")');
    expect(await text(page)).toContain('Redriven.');
    expect(await stock(sku)).toMatchObject({ onHand: 5, reserved: 2 });
  });

  it('rebuilds a projection and shows its progress until the new generation takes over', async () => {
    await page.goto(consoleUrl('/projections'));
    expect(await axeViolations(page)).toEqual([]);
    const live = Number(
      await page.$$eval('table tbody tr', (rows) => {
        const found = rows.find((r) => r.querySelector('a')?.textContent === 'order-summary');
        return found?.querySelectorAll('td')[2]?.textContent ?? 'NaN';
      }),
    );
    expect(Number.isInteger(live)).toBe(true);
    await page.check('#confirm-order-summary');
    await submit(page, 'button:text-is("Rebuild order-summary")');
    expect(page.url()).toBe(consoleUrl(`/projections/order-summary?generation=${live + 1}`));
    // The page loads itself again each second; it says when the new generation took over.
    await eventually(
      async () => {
        expect(await page.content()).toContain(`Generation ${live + 1} took over`);
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    await shot(page, 'rebuild');
  });

  it('signs out: the session is gone', async () => {
    await page.goto(consoleUrl('/'));
    await submit(page, 'form.who button');
    expect(await text(page)).toContain('You are signed out of the console.');
    const response = await fetch(consoleUrl('/'), {
      redirect: 'manual',
      headers: {
        cookie: (await page.context().cookies(consoleUrl('/')))
          .map((c) => `${c.name}=${c.value}`)
          .join('; '),
      },
    });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toMatch(/^\/auth\/login/);
  });
});
