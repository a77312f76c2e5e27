// Shared helpers for the benchmarks: percentiles, the machine's description, and writing a
// section of docs/benchmarks.md (replaced in place between its markers, so reruns update it).
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const root = join(import.meta.dirname, '..');

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function summarize(latenciesMs: number[], seconds: number) {
  const sorted = latenciesMs.sort((a, b) => a - b);
  return {
    count: sorted.length,
    perSecond: Math.round(sorted.length / seconds),
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

export function machine(): string {
  const pg = (() => {
    try {
      return execFileSync('psql', ['-d', 'postgres', '-XAtc', 'SHOW server_version'], {
        encoding: 'utf8',
      }).trim();
    } catch {
      return 'unknown';
    }
  })();
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, PostgreSQL ${pg}`;
}

/**
 * Writes the section, then formats the whole file as the repository's format check wants it
 * (tables padded, one blank line around blocks): a bench run leaves `npm test` green.
 */
export async function writeSection(name: string, body: string): Promise<void> {
  const file = join(root, 'docs', 'benchmarks.md');
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  let text = existsSync(file)
    ? readFileSync(file, 'utf8')
    : '# Benchmarks\n\nFigures written by `npm run bench`; each section says how it was measured.\n';
  const block = `${begin}\n${body.trim()}\n${end}`;
  const at = text.indexOf(begin);
  text =
    at >= 0
      ? text.slice(0, at) + block + text.slice(text.indexOf(end) + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  const prettier = await import('prettier');
  const options = (await prettier.resolveConfig(file)) ?? {};
  writeFileSync(file, await prettier.format(text, { ...options, filepath: file }));
}

export const ms = (value: number) => value.toFixed(value < 10 ? 2 : 1);

/** How a process is told apart, by its command line and name, for the CPU it uses. */
export type Roles = Readonly<Record<string, (cmdline: string, comm: string) => boolean>>;

/** CPU ticks (user + system) by process, and the machine's busy ticks, at one instant. */
export interface CpuSample {
  readonly processes: ReadonlyMap<number, { readonly role: string; readonly ticks: number }>;
  readonly machineBusy: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Reads /proc: each process of a role, its CPU so far; and the machine's busy time so far. */
export function cpuSample(roles: Roles): CpuSample {
  const processes = new Map<number, { role: string; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const role = Object.entries(roles).find(([, is]) => is(cmdline, comm))?.[0];
      if (!role) continue;
      // After the name: state is field 3, utime 14, stime 15, and the CPU of its children that
      // ended and were waited for, cutime 16 and cstime 17 (proc(5)): PostgreSQL's backends
      // that close during a run count to the postmaster.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
      processes.set(Number(entry), { role, ticks });
    } catch {
      // gone between the listing and the read
    }
  }
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').split(/\s+/).slice(1);
  // Steal (time the hypervisor gave another guest) is not this machine's work.
  const [user, nice, system, , , irq, softirq] = cpu.map(Number);
  const machineBusy = [user, nice, system, irq, softirq].reduce<number>(
    (sum, x) => sum + (x ?? 0),
    0,
  );
  return { processes, machineBusy };
}

/**
 * CPU seconds each role used between two samples, and the whole machine's busy seconds. A
 * process that started in between counts whole; one that ended in between counts to its parent
 * once waited for (cutime, cstime), when the parent has a role.
 */
export function cpuBetween(before: CpuSample, after: CpuSample): Record<string, number> {
  const seconds: Record<string, number> = {};
  for (const [pid, { role, ticks }] of after.processes) {
    const earlier = before.processes.get(pid)?.ticks ?? 0;
    seconds[role] = (seconds[role] ?? 0) + (ticks - earlier) / TICKS_PER_SECOND;
  }
  seconds['machine'] = (after.machineBusy - before.machineBusy) / TICKS_PER_SECOND;
  return seconds;
}

/**
 * The order saga's load, as bench/saga.mts and the Temporal peer (bench/temporal/peer.mts)
 * both take it: BENCH_RATE orders/s for BENCH_SECONDS, open loop, over BENCH_SKUS stock items,
 * after BENCH_WARMUP_SECONDS of the same load untimed (the engines and services start cold with
 * each run, and the JVM's and V8's compilers then take a large share of the 2 cores: Kafka's C2
 * compiler threads alone 28% of one core in a 10 s sample of a cold run).
 */
export function sagaLoad(env: NodeJS.ProcessEnv = process.env) {
  return {
    rate: Number(env['BENCH_RATE'] ?? 150),
    seconds: Number(env['BENCH_SECONDS'] ?? 20),
    warmupSeconds: Number(env['BENCH_WARMUP_SECONDS'] ?? 10),
    skuCount: Number(env['BENCH_SKUS'] ?? 100),
    /** The share of orders cancelled by their customer once their saga completed (0: none). */
    cancelShare: Number(env['BENCH_CANCEL_SHARE'] ?? 0.1),
  };
}

/** One side's run of the order saga at one offered rate (bench/saga-vs-temporal.mts). */
export interface SagaSummary {
  readonly rate: number;
  readonly offered: number;
  /** Sagas ended (completed or compensated) among the offered orders. */
  readonly ended: number;
  readonly sagasPerSecond: number;
  /** Sorted latencies, ms: the order's record -> CONFIRMED. */
  readonly happy: readonly number[];
  /** The saga's start -> its end: stock committed, payment captured. */
  readonly sagaToEnd: readonly number[];
  /** The order's record -> REJECTED, compensated. */
  readonly compensation: readonly number[];
  /** The cancellation's record -> CANCELLED (refund, stock returned). */
  readonly cancellation: readonly number[];
  /** CPU seconds by role over the timed orders, and the machine's (`machine`). */
  readonly cpu: Readonly<Record<string, number>>;
  /** Where a confirmed order's time goes: its steps, in the order they come. */
  readonly steps: readonly Step[];
}

/** One step of a saga's timeline (between two of its recorded events), over many orders, ms. */
export interface Step {
  readonly step: string;
  readonly count: number;
  readonly p50: number;
  readonly p90: number;
  /** The sum of its gaps: how much of all the orders' time this step took. */
  readonly total: number;
}

/** A step from the gaps (ms, sorted) its orders took. */
export function stepOf(step: string, sortedGaps: readonly number[]): Step {
  return {
    step,
    count: sortedGaps.length,
    p50: percentile(sortedGaps, 50),
    p90: percentile(sortedGaps, 90),
    total: sortedGaps.reduce((sum, x) => sum + x, 0),
  };
}
