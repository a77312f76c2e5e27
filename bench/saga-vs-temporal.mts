// The order saga on this system against the same saga on Temporal (bench/temporal), on this
// machine, in one run: at each offered rate (BENCH_RATES, 5,10,25,75,150,300 by default) each
// side runs saga.mts's load (open loop, warm-up first, one in ten declined, one in ten cancelled
// once confirmed), the two alternating which goes first from round to round (BENCH_ROUNDS, 1 by
// default), each in its own processes, started for its run and stopped after it. Sagas ended
// per second, the happy, compensation and cancellation latencies, and the CPU seconds per saga
// of each side's processes (from /proc) and of the whole machine; then the ratios. Written to
// docs/benchmarks.md and explained in docs/saga-vs-temporal.md.
//   npm run bench -- saga-vs-temporal
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { machine, ms, percentile, root, sagaLoad, writeSection, type SagaSummary } from './lib.mts';

const rates = (process.env['BENCH_RATES'] ?? '5,10,25,75,150,300').split(',').map(Number);
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 1);
// Shorter than the saga bench's own defaults (20 s after 10 s): past its capacity the Temporal
// side drains its backlog at 13-15 sagas/s, and a round of every rate takes half an hour as it is.
const { seconds, warmupSeconds } = sagaLoad({
  BENCH_SECONDS: '10',
  BENCH_WARMUP_SECONDS: '5',
  ...process.env,
});

const SIDES = {
  system: {
    script: 'bench/saga.mts',
    label: 'this system',
    processes: ['services', 'postgres', 'kafka'],
  },
  temporal: {
    script: 'bench/temporal/peer.mts',
    label: 'Temporal',
    processes: ['temporal server', 'temporal worker', 'postgres'],
  },
} as const;
type Side = keyof typeof SIDES;

// Each run's figures are kept here as JSON: in BENCH_SUMMARIES_DIR when set (kept afterwards; a
// run whose file is there already is not run again, so an interrupted run resumes and a table
// can be written again from the figures), else in a scratch directory removed at the end.
const kept = process.env['BENCH_SUMMARIES_DIR'];
const scratch = kept ?? mkdtempSync(join(tmpdir(), 'saga-vs-temporal-'));
mkdirSync(scratch, { recursive: true });

async function runSide(side: Side, rate: number, round: number): Promise<SagaSummary> {
  const file = join(scratch, `${side}-${rate}-${round}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SagaSummary;
  console.log(`\n=== ${SIDES[side].label} at ${rate}/s (round ${round + 1} of ${rounds})`);
  const child = spawn(
    process.execPath,
    ['--disable-warning=ExperimentalWarning', join(root, SIDES[side].script)],
    {
      env: {
        ...process.env,
        BENCH_RATE: String(rate),
        BENCH_SECONDS: String(seconds),
        BENCH_WARMUP_SECONDS: String(warmupSeconds),
        BENCH_SUMMARY_FILE: file,
      },
      stdio: 'inherit',
    },
  );
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`${SIDES[side].label} at ${rate}/s exited with ${code}`);
  return JSON.parse(readFileSync(file, 'utf8')) as SagaSummary;
}

const median = (xs: readonly number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
};
/** One side at one rate over its rounds: each figure the median of the rounds'. */
function figures(side: Side, runs: readonly SagaSummary[]) {
  const of = (f: (s: SagaSummary) => number) => median(runs.map(f));
  const perSaga = (s: SagaSummary, roles: readonly string[]) =>
    (roles.reduce((sum, role) => sum + (s.cpu[role] ?? 0), 0) * 1000) / s.offered;
  return {
    ended: of((s) => s.ended),
    offered: of((s) => s.offered),
    perSecond: of((s) => s.sagasPerSecond),
    happy50: of((s) => percentile(s.happy, 50)),
    happy99: of((s) => percentile(s.happy, 99)),
    end50: of((s) => percentile(s.sagaToEnd, 50)),
    comp50: of((s) => percentile(s.compensation, 50)),
    comp99: of((s) => percentile(s.compensation, 99)),
    cancel50: of((s) => percentile(s.cancellation, 50)),
    cancel99: of((s) => percentile(s.cancellation, 99)),
    processCpu: of((s) => perSaga(s, SIDES[side].processes)),
    machineCpu: of((s) => perSaga(s, ['machine'])),
    roles: Object.fromEntries(
      SIDES[side].processes.map((role) => [role, of((s) => perSaga(s, [role]))]),
    ),
  };
}

try {
  const results = new Map<number, Record<Side, SagaSummary[]>>();
  for (let round = 0; round < rounds; round++)
    for (const rate of rates) {
      const order: Side[] = round % 2 === 0 ? ['system', 'temporal'] : ['temporal', 'system'];
      const at = results.get(rate) ?? { system: [], temporal: [] };
      for (const side of order) at[side].push(await runSide(side, rate, round));
      results.set(rate, at);
    }

  const rows: string[] = [];
  const ratios: string[] = [];
  const where: string[] = [];
  for (const [rate, runs] of results) {
    const sys = figures('system', runs.system);
    const tmp = figures('temporal', runs.temporal);
    for (const [side, f] of [
      ['system', sys],
      ['temporal', tmp],
    ] as const)
      rows.push(
        `| ${rate} | ${SIDES[side].label} | ${f.ended}/${f.offered} | ${f.perSecond.toFixed(1)} | ${ms(f.happy50)} / ${ms(f.happy99)} | ${ms(f.end50)} | ${ms(f.comp50)} / ${ms(f.comp99)} | ${ms(f.cancel50)} / ${ms(f.cancel99)} | ${f.processCpu.toFixed(1)} | ${f.machineCpu.toFixed(1)} |`,
      );
    const r = (a: number, b: number) => (a / b).toFixed(2);
    ratios.push(
      `| ${rate} | ${r(sys.perSecond, tmp.perSecond)} | ${r(sys.happy50, tmp.happy50)} / ${r(sys.happy99, tmp.happy99)} | ${r(sys.comp50, tmp.comp50)} / ${r(sys.comp99, tmp.comp99)} | ${r(sys.cancel50, tmp.cancel50)} / ${r(sys.cancel99, tmp.cancel99)} | ${r(sys.processCpu, tmp.processCpu)} | ${r(sys.machineCpu, tmp.machineCpu)} |`,
    );
    const roles = (f: typeof sys) =>
      Object.entries(f.roles)
        .map(([role, v]) => `${role} ${v.toFixed(1)}`)
        .join(', ');
    where.push(`| ${rate} | ${roles(sys)} | ${roles(tmp)} |`);
  }
  /** The steps that took most of the orders' time on one side at one rate (its first round). */
  const stepTable = (rate: number) => {
    const runs = results.get(rate);
    if (!runs) return '';
    const lines = (Object.keys(SIDES) as Side[]).flatMap((side) => {
      const steps = [...(runs[side][0]?.steps ?? [])];
      const all = steps.reduce((sum, st) => sum + st.total, 0);
      return steps
        .sort((a, b) => b.total - a.total)
        .slice(0, 8)
        .map(
          (st) =>
            `| ${SIDES[side].label} | ${st.step} | ${st.count} | ${ms(st.p50)} | ${ms(st.p90)} | ${((100 * st.total) / all).toFixed(0)}% |`,
        );
    });
    return `
Where a confirmed order's time goes at ${rate}/s: the eight steps that took most of it on each
side (this system: between the events of an order's correlation in its four databases;
Temporal: between consecutive events of the workflow's history, for up to 100 workflows), ms:

| side | step | steps | p50 | p90 | share of the time |
|---|---|---|---|---|---|
${lines.join('\n')}
`;
  };
  const body = `
## The order saga against Temporal (\`npm run bench -- saga-vs-temporal\`)

Machine: ${machine()}. The same order saga (create the order, reserve stock, authorize the
payment, approve, commit the stock, capture the payment; a refusal compensated; a confirmed
order's cancellation refunded and its stock returned) on this system and as Temporal workflows
(bench/temporal: the Temporal CLI's development server, built from the Go module proxy, and a
TypeScript SDK worker whose activities write the participants' effects to their own PostgreSQL
databases, idempotent by activity id). Each side at the same offered rate, open loop, ${seconds} s
after a ${warmupSeconds} s warm-up, one in ten orders declined for want of funds, one in ten
cancelled once confirmed; the sides alternate which runs first, ${rounds} round${rounds === 1 ? '' : 's'}
(medians of the rounds). What differs, and where the time goes: docs/saga-vs-temporal.md.

| offered /s | side | sagas ended | ended /s | happy p50 / p99 ms | saga start -> end p50 ms | compensation p50 / p99 ms | cancellation p50 / p99 ms | CPU ms / saga, its processes | CPU ms / saga, machine |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

This system / Temporal (ended /s above 1, latencies and CPU below 1: this system ahead):

| offered /s | ended /s | happy p50 / p99 | compensation p50 / p99 | cancellation p50 / p99 | CPU, its processes | CPU, machine |
|---|---|---|---|---|---|---|
${ratios.join('\n')}

CPU ms per saga by process (this system: its four services, PostgreSQL, Kafka; Temporal: its
server, the worker, PostgreSQL):

| offered /s | this system | Temporal |
|---|---|---|
${where.join('\n')}

${[...new Set([Math.min(...rates), Math.max(...rates)])].map(stepTable).join('')}
Command: \`npm run bench -- saga-vs-temporal\` (BENCH_RATES, BENCH_ROUNDS, BENCH_SECONDS); ${new Date().toISOString().slice(0, 10)}.
`;
  console.log(body);
  await writeSection('saga-vs-temporal', body);
} finally {
  if (!kept) rmSync(scratch, { recursive: true, force: true });
}
