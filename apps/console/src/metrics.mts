// The overview's time series: each service's /metrics (the Prometheus text the services serve,
// docs/observability.md) read every few seconds, a handful of series summed and kept for the
// last minutes in memory. Read with a signed-in operator's token (/metrics is an operator's):
// while nobody is signed in, nothing is read and the charts wait.

/** One sample of the series the overview draws, per service. */
export interface Sample {
  readonly at: number;
  readonly up: boolean;
  readonly outboxBacklog: number;
  readonly consumerLag: number;
  readonly parked: number;
  /** Sagas by state (the orchestrator's only). */
  readonly sagas: Readonly<Record<string, number>>;
}

interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Prometheus' text format (version 0.0.4): the samples, comments and blank lines skipped. */
export function parsePrometheus(text: string): Series[] {
  const series: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const [, name = '', labelText = '', raw = ''] = match;
    const labels: Record<string, string> = {};
    for (const [, label = '', text = ''] of labelText.matchAll(
      /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g,
    ))
      labels[label] = text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = Number(raw);
    if (Number.isFinite(value)) series.push({ name, labels, value });
  }
  return series;
}

const sum = (series: readonly Series[], name: string) =>
  series.filter((s) => s.name === name).reduce((total, s) => total + s.value, 0);

export function sampleOf(text: string, at: number): Sample {
  const series = parsePrometheus(text);
  const sagas: Record<string, number> = {};
  for (const s of series)
    if (s.name === 'sagas' && s.labels['state'])
      sagas[s.labels['state']] = (sagas[s.labels['state']] ?? 0) + s.value;
  return {
    at,
    up: true,
    outboxBacklog: sum(series, 'outbox_backlog_messages'),
    consumerLag: sum(series, 'kafka_consumer_lag'),
    parked: sum(series, 'consumer_parked_messages'),
    sagas,
  };
}

/** The samples of each service, the oldest first, at most `keep` each. */
export class MetricsHistory {
  private readonly samples = new Map<string, Sample[]>();
  private timer: NodeJS.Timeout | undefined;

  private readonly services: readonly { readonly name: string; readonly url: string }[];
  private readonly token: () => string | undefined;
  private readonly everyMs: number;
  private readonly keep: number;

  constructor(
    services: readonly { readonly name: string; readonly url: string }[],
    token: () => string | undefined,
    everyMs = 5_000,
    keep = 120,
  ) {
    this.services = services;
    this.token = token;
    this.everyMs = everyMs;
    this.keep = keep;
  }

  start(): void {
    const tick = () => {
      void this.sampleAll().finally(() => {
        this.timer = setTimeout(tick, this.everyMs);
        this.timer.unref();
      });
    };
    tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  of(service: string): readonly Sample[] {
    return this.samples.get(service) ?? [];
  }

  /** Reads every service once now (the overview's first view need not wait for the timer). */
  async sampleAll(): Promise<void> {
    const token = this.token();
    if (!token) return;
    await Promise.all(
      this.services.map(async ({ name, url }) => {
        const at = Date.now();
        let sample: Sample;
        try {
          const response = await fetch(`${url}/metrics`, {
            headers: { authorization: `Bearer ${token}` },
            signal: AbortSignal.timeout(3_000),
          });
          sample = response.ok
            ? sampleOf(await response.text(), at)
            : { at, up: false, outboxBacklog: 0, consumerLag: 0, parked: 0, sagas: {} };
        } catch {
          sample = { at, up: false, outboxBacklog: 0, consumerLag: 0, parked: 0, sagas: {} };
        }
        const kept = this.samples.get(name) ?? [];
        kept.push(sample);
        if (kept.length > this.keep) kept.splice(0, kept.length - this.keep);
        this.samples.set(name, kept);
      }),
    );
  }
}
