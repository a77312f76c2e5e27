// Where the local stack is and how to reach it. Tests never start engines themselves one by one:
// the Jest global setup runs infra/local/stack.sh (the same script `npm start` uses).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export function workspaceRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no pnpm-workspace.yaml above ${__dirname}`);
    dir = parent;
  }
  return dir;
}

export function stackDir(): string {
  return process.env['ES_STACK_DIR'] ?? join(workspaceRoot(), '.local', 'stack');
}

/** The Kafka principals' passwords of the stack in `dir` (infra/local/kafka.sh). */
export function kafkaPassfile(dir = stackDir()): string {
  return join(dir, 'kafka', 'credentials');
}

/**
 * The Kafka broker jars infra/local/kafka.sh fetched (the version of infra/kafka/pom.xml, in the
 * per-user cache): a classpath for Kafka's own tools (`<dir>/*`).
 */
export function kafkaJarsDir(): string {
  const root = workspaceRoot();
  const version = /<kafka.version>(.*)<\/kafka.version>/.exec(
    readFileSync(join(root, 'infra', 'kafka', 'pom.xml'), 'utf8'),
  )?.[1];
  if (!version) throw new Error('infra/kafka/pom.xml names no kafka.version');
  const cache = process.env['ES_CACHE_DIR'] ?? join(process.env['HOME'] ?? '', '.cache', 'es-cqrs');
  return join(cache, `kafka-${version}`, 'libs');
}

/** Parses the `export KEY=value` lines stack.sh writes. */
export function parseStackEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined && match[2] !== undefined) env[match[1]] = match[2];
  }
  return env;
}

/** Copies the stack's environment (addresses, generated password) into process.env, keeping what is set. */
export function loadStackEnv(): void {
  const file = join(stackDir(), 'stack.env');
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: start the engines with 'bash infra/local/stack.sh up'`);
  }
  for (const [key, value] of Object.entries(parseStackEnv(readFileSync(file, 'utf8')))) {
    process.env[key] ??= value;
  }
}

function stackScript(...args: string[]): void {
  execFileSync('bash', [join(workspaceRoot(), 'infra', 'local', 'stack.sh'), ...args], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

export function stackIsUp(): boolean {
  try {
    execFileSync('bash', [join(workspaceRoot(), 'infra', 'local', 'stack.sh'), 'status'], {
      stdio: 'ignore',
    });
    return true;
  } catch {
    return false;
  }
}

/** Brings the engines up unless they already run; says whether it started them. */
export function ensureStack(): { startedHere: boolean } {
  if (stackIsUp()) return { startedHere: false };
  stackScript('up');
  return { startedHere: true };
}

export function stopStack(): void {
  stackScript('down');
}
