// The HTTP contract, tried by a fuzzer nobody here wrote: Schemathesis reads each running
// service's OpenAPI document and sends what it allows and what it forbids, with every check on
// (status codes, content types, response schemas and headers, positive data accepted, negative
// data rejected, 405 for undocumented methods, links between operations). Zero failures and zero
// errored operations on all five services. A fixed seed and a bounded example count keep it
// short in `npm test`; `npm run contract` runs the long profile (docs/api.md).
import { execFile, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICES, identity, startServices, workspaceRoot, type RunningService } from '@es/testing';

const root = workspaceRoot();
const examples = process.env['CONTRACT_EXAMPLES'] ?? '30';
const seed = process.env['CONTRACT_SEED'] ?? '1';
const reports = join(root, '.local', 'contract');

interface Run {
  readonly code: number | null;
  readonly output: string;
  readonly tests: number;
  readonly failures: number;
  readonly errors: number;
}

function fuzz(st: string, service: RunningService, token: string): Promise<Run> {
  const junit = join(reports, `${service.name}.xml`);
  const args = [
    '--config-file',
    join(root, 'tools', 'contract', 'schemathesis.toml'),
    'run',
    service.url('/docs/openapi.json'),
    '--checks',
    'all',
    // The test client's token (staff and operator): an operation that is a customer's own
    // answers 403 to it, as its document says; and Schemathesis's ignored_auth check (in
    // --checks all) asks each operation again without it, expecting a 401.
    '--header',
    `Authorization: Bearer ${token}`,
    '--seed',
    seed,
    '--max-examples',
    examples,
    '--generation-database',
    'none',
    '--workers',
    '1',
    '--no-color',
    '--report',
    'junit',
    '--report-junit-path',
    junit,
  ];
  return new Promise((resolve) => {
    execFile(st, args, { cwd: reports, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const xml = (() => {
        try {
          return readFileSync(junit, 'utf8');
        } catch {
          return '';
        }
      })();
      const count = (name: string) =>
        [...xml.matchAll(new RegExp(`<testsuite [^>]*\\b${name}="(\\d+)"`, 'g'))].reduce(
          (sum, m) => sum + Number(m[1]),
          0,
        );
      resolve({
        code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
        output: `${stdout}${stderr}`,
        tests: count('tests'),
        failures: count('failures'),
        errors: count('errors'),
      });
    });
  });
}

describe('the HTTP contract under Schemathesis (--checks all)', () => {
  let st: string;
  let services: RunningService[] = [];

  beforeAll(async () => {
    st = execFileSync('bash', [join(root, 'tools', 'contract', 'ensure-schemathesis.sh')], {
      encoding: 'utf8',
    }).trim();
    mkdirSync(reports, { recursive: true });
    // A token no write reached waits out the read's bound before its 409: a short bound keeps
    // the fuzzer's many such reads quick (the bound itself is the e2e REST test's).
    services = await startServices(SERVICES, { env: { CONSISTENCY_WAIT_MS: '100' } });
  }, 300_000);
  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
  });

  it.each(SERVICES.map((s) => s.name))(
    '%s: every operation tested, no failure',
    async (name) => {
      const service = services.find((s) => s.name === name)!;
      const run = await fuzz(st, service, await identity.token());
      process.stdout.write(
        `[contract] ${name}: ${run.tests} operations, ${run.failures} failures, ${run.errors} errors (seed ${seed}, ${examples} examples)\n`,
      );
      // The whole report when it fails: each failure with its curl to reproduce it.
      if (run.code !== 0) throw new Error(`schemathesis exited ${run.code}:\n${run.output}`);
      expect(run).toMatchObject({ code: 0, failures: 0, errors: 0 });
      expect(run.tests).toBeGreaterThan(3); // its own operations, beside health and metrics
    },
    900_000,
  );
});
