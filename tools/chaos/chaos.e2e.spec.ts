// The fault harness (docs/reliability.md): the whole system as real processes on a three-node
// Kafka cluster, load over HTTP, every fault injected in turn, then the invariant checker on what
// the engines hold. `npm test` runs the short profile; `npm run chaos` the full one, which also
// writes its results into docs/reliability.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { workspaceRoot } from '@es/testing';
import { PROFILES, reportMarkdown, runChaos } from './run';

const chosen = PROFILES[process.env['CHAOS_PROFILE'] ?? 'short'];
// CHAOS_FAULTS=kill-inventory,poison runs only those faults of the profile's (to look into one).
const only = process.env['CHAOS_FAULTS']?.split(',').filter(Boolean);
const profile = chosen && only ? { ...chosen, faults: only } : chosen;

function writeResults(markdown: string, profileName: string): void {
  const file = join(workspaceRoot(), 'docs', 'reliability.md');
  const begin = `<!-- chaos:${profileName}:begin -->`;
  const end = `<!-- chaos:${profileName}:end -->`;
  const text = readFileSync(file, 'utf8');
  const from = text.indexOf(begin);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`docs/reliability.md has no ${begin} ... ${end}`);
  writeFileSync(file, `${text.slice(0, from + begin.length)}\n${markdown}\n${text.slice(to)}`);
}

describe(`the fault harness, profile ${process.env['CHAOS_PROFILE'] ?? 'short'}`, () => {
  it('loses nothing, duplicates nothing and rejects no order for a fault', async () => {
    if (!profile)
      throw new Error(`CHAOS_PROFILE must be one of ${Object.keys(PROFILES).join(', ')}`);
    const report = await runChaos(profile);
    if (process.env['CHAOS_WRITE_RESULTS'] === '1' && !only) {
      const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
      const command =
        profile.name === 'full' ? 'npm run chaos' : `CHAOS_PROFILE=${profile.name} npm run chaos`;
      writeResults(reportMarkdown(report, machine, command), profile.name);
    }
    const failed = report.checks.filter((c) => c.violations.length > 0);
    expect(failed.map((c) => `${c.name}: ${c.violations.join('; ')}`)).toEqual([]);
    expect(report.checks.length).toBeGreaterThanOrEqual(11);
  }, 3_600_000);
});
