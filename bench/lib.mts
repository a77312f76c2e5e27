// Shared helpers for the benchmarks: percentiles, the machine's description, and writing a
// section of docs/benchmarks.md (replaced in place between its markers, so reruns update it).
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
