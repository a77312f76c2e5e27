// The load a customer base puts on the system over HTTP while faults are injected: orders
// (one in ten for a customer without the funds, so the compensation path runs too), restocks
// and deposits every second, and the cancellation of one confirmed order in ten. Every command
// carries an Idempotency-Key and is retried with it, through restarts and outages, until it is
// answered; the ledger keeps what was acknowledged (a 2xx), which the invariant checker then
// holds the stores to. A 500 is a violation (an outage must answer 503); so is a command that
// could not be acknowledged within the give-up time.
import { randomUUID } from 'node:crypto';
import { type Caller, callerFor, contactFor, Identity } from '@es/testing';
import type { ChaosSystem, InstanceName } from './system';

export interface PlacedOrder {
  readonly orderId: string;
  readonly customerId: string;
  readonly lines: readonly { sku: string; quantity: number; unitPrice: number }[];
  readonly placedAt: number;
}

export interface Ledger {
  readonly skus: readonly string[];
  readonly customers: readonly string[];
  readonly orders: Map<string, PlacedOrder>;
  /** Acknowledged restock units per SKU. */
  readonly restocked: Map<string, number>;
  /** Acknowledged deposits per customer. */
  readonly deposited: Map<string, number>;
  /** Orders whose cancellation was acknowledged. */
  readonly cancelled: Set<string>;
  readonly unacknowledged: string[];
  readonly serverErrors: string[];
  /** Answers other than 2xx that were not retried (a cancel that lost a race, ...). */
  readonly refusals: Map<string, number>;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers: Headers;
}

/** The harness's tokens: the benchmarks' client (staff, operator) and its customers. */
const harness = new Identity({ client: 'es-bench' });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The item at `i`, counting round: a list that is empty is a mistake of this file. */
function nth<T>(items: readonly T[], i: number): T {
  const item = items[i % items.length];
  if (item === undefined) throw new Error('nothing to pick from');
  return item;
}
const pick = <T>(items: readonly T[]): T => nth(items, Math.floor(Math.random() * items.length));

export class Load {
  readonly ledger: Ledger;
  private readonly inFlight = new Set<Promise<unknown>>();
  private running = false;
  private orderSeq = 0;

  constructor(
    private readonly system: ChaosSystem,
    run: string,
    private readonly options: { readonly ordersPerSecond: number; readonly giveUpMs: number },
  ) {
    this.ledger = {
      skus: Array.from({ length: 30 }, (_, i) => `CHAOS-${run}-${i}`),
      customers: Array.from({ length: 20 }, (_, i) => `chaos-${run}-${i}`),
      orders: new Map(),
      restocked: new Map(),
      deposited: new Map(),
      cancelled: new Set(),
      unacknowledged: [],
      serverErrors: [],
      refusals: new Map(),
    };
    this.poor = Array.from({ length: 5 }, (_, i) => `chaos-poor-${run}-${i}`);
  }

  private readonly poor: string[];

  /** A customer given 1 in funds: their orders are rejected INSUFFICIENT_FUNDS, rightly. */
  isPoor(customerId: string): boolean {
    return this.poor.includes(customerId);
  }

  /**
   * POSTs until answered: a network error, a timeout or a 502/503/504 is retried with the same
   * Idempotency-Key (Retry-After honoured), a 500 is recorded and retried, anything else is the
   * answer. Undefined when the give-up time passed without one.
   */
  private async command(
    what: string,
    instances: readonly InstanceName[],
    path: string,
    body: unknown,
    headers: Record<string, string> = {},
    // The harness's client (staff) for restocks and deposits, the customer for their orders.
    caller: Caller = callerFor(body),
  ): Promise<Answer | undefined> {
    const key = randomUUID();
    const giveUpAt = Date.now() + this.options.giveUpMs;
    for (let attempt = 0; Date.now() < giveUpAt; attempt++) {
      const instance = nth(instances, attempt);
      let wait = Math.min(2_000, 200 * 2 ** Math.min(attempt, 4));
      try {
        const response = await fetch(this.system.url(instance, path), {
          method: 'POST',
          headers: {
            ...(await harness.headers(caller)),
            'content-type': 'application/json',
            'idempotency-key': key,
            ...headers,
          },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(15_000),
        });
        const text = await response.text();
        const parsed: unknown = text ? JSON.parse(text) : undefined;
        if (response.status === 500) {
          this.ledger.serverErrors.push(`${what}: 500 ${text.slice(0, 300)}`);
        } else if (![502, 503, 504].includes(response.status)) {
          return { status: response.status, body: parsed, headers: response.headers };
        } else {
          const retryAfter = Number(response.headers.get('retry-after'));
          if (retryAfter > 0) wait = Math.min(wait, retryAfter * 1_000);
        }
      } catch {
        // refused while restarting, reset by a kill, or timed out: the same key again
      }
      await sleep(wait);
    }
    this.ledger.unacknowledged.push(`${what}: no answer within ${this.options.giveUpMs} ms`);
    return undefined;
  }

  private refused(what: string, answer: Answer): void {
    const code = (answer.body as { code?: string } | undefined)?.code ?? String(answer.status);
    const name = `${what} ${answer.status} ${code}`;
    this.ledger.refusals.set(name, (this.ledger.refusals.get(name) ?? 0) + 1);
  }

  private track<T>(promise: Promise<T>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  async restock(sku: string, quantity: number): Promise<void> {
    const answer = await this.command(
      `restock ${sku}`,
      ['inventory-service'],
      `/inventory/${sku}/restock`,
      { quantity },
    );
    if (answer?.status === 202)
      this.ledger.restocked.set(sku, (this.ledger.restocked.get(sku) ?? 0) + quantity);
    else if (answer) this.refused('restock', answer);
  }

  async deposit(customerId: string, amount: number): Promise<void> {
    const answer = await this.command(
      `deposit ${customerId}`,
      ['payment-service'],
      `/accounts/${customerId}/deposit`,
      { amount },
    );
    if (answer?.status === 202)
      this.ledger.deposited.set(customerId, (this.ledger.deposited.get(customerId) ?? 0) + amount);
    else if (answer) this.refused('deposit', answer);
  }

  /** Stock and funds before the load: every SKU, every customer (the poor get 1). */
  async prepare(): Promise<void> {
    await Promise.all(this.ledger.skus.map((sku) => this.restock(sku, 1_000_000)));
    await Promise.all(this.ledger.customers.map((c) => this.deposit(c, 1_000_000_000)));
    await Promise.all(this.poor.map((c) => this.deposit(c, 1)));
    if (this.ledger.unacknowledged.length > 0)
      throw new Error(`the preparation was not acknowledged: ${this.ledger.unacknowledged[0]}`);
  }

  private async place(): Promise<void> {
    const seq = this.orderSeq++;
    const customerId = seq % 10 === 9 ? pick(this.poor) : pick(this.ledger.customers);
    const skus = [...this.ledger.skus].sort(() => Math.random() - 0.5).slice(0, 1 + (seq % 2));
    const lines = skus.map((sku) => ({
      sku,
      quantity: 1 + Math.floor(Math.random() * 3),
      unitPrice: 100 + Math.floor(Math.random() * 900),
    }));
    const placedAt = Date.now();
    // Both order-service instances take orders: a killed one's clients go to the other.
    const instances: InstanceName[] =
      seq % 2 === 0 ? ['order-service', 'order-service-b'] : ['order-service-b', 'order-service'];
    const answer = await this.command(`order ${seq}`, instances, '/orders', {
      customerId,
      items: lines,
      ...contactFor(customerId),
    });
    if (answer?.status !== 202) {
      if (answer) this.refused('order', answer);
      return;
    }
    const { orderId } = answer.body as { orderId: string };
    this.ledger.orders.set(orderId, { orderId, customerId, lines, placedAt });
    if (seq % 10 === 3) await this.cancelOnceConfirmed(orderId, customerId);
  }

  /** The customer cancels the order once they see it confirmed (the read model, then If-Match). */
  private async cancelOnceConfirmed(orderId: string, customerId: string): Promise<void> {
    const giveUpAt = Date.now() + 120_000;
    while (Date.now() < giveUpAt) {
      await sleep(1_000);
      try {
        const response = await fetch(this.system.url('order-service', `/orders/${orderId}`), {
          headers: await harness.headers({ customer: customerId }),
          signal: AbortSignal.timeout(5_000),
        });
        if (response.status !== 200) continue;
        const order = (await response.json()) as { status: string };
        if (order.status === 'REJECTED') return;
        if (order.status !== 'CONFIRMED') continue;
        const etag = response.headers.get('etag');
        const answer = await this.command(
          `cancel ${orderId}`,
          ['order-service', 'order-service-b'],
          `/orders/${orderId}/cancel`,
          { reason: 'chaos: the customer changed their mind' },
          etag ? { 'if-match': etag } : {},
          { customer: customerId },
        );
        if (answer?.status === 202) this.ledger.cancelled.add(orderId);
        else if (answer) this.refused('cancel', answer);
        return;
      } catch {
        // the order service is restarting: look again
      }
    }
  }

  /** Starts the offered load (open loop: a slow answer does not slow the arrivals). */
  start(): void {
    this.running = true;
    const interval = 1_000 / this.options.ordersPerSecond;
    const started = Date.now();
    let sent = 0;
    void (async () => {
      while (this.running) {
        const due = Math.floor((Date.now() - started) / interval);
        for (; sent < due; sent++) this.track(this.place());
        await sleep(Math.max(1, interval / 2));
      }
    })();
    void (async () => {
      while (this.running) {
        await sleep(1_000);
        if (!this.isRunning()) break;
        this.track(this.restock(pick(this.ledger.skus), 1 + Math.floor(Math.random() * 20)));
        this.track(
          this.deposit(pick(this.ledger.customers), 1_000 + Math.floor(Math.random() * 9_000)),
        );
      }
    })();
  }

  /** Read through a method: the loops read it again after each sleep. */
  private isRunning(): boolean {
    return this.running;
  }

  /** Stops offering and waits for every command in flight to be answered or given up. */
  async stop(): Promise<void> {
    this.running = false;
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }
}
