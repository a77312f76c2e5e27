// Kafka 3.9 can lose every SCRAM credential a cluster was formatted with: delete any one user's
// credential, restart the node, and none of the formatted users can log in. `stack.sh up kafka`
// checks every principal's login and sets again the credentials that fail (infra/kafka/logins.mts).
// Injected here on a node of its own (its own ports and data).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterKafka, kafkaJarsDir, workspaceRoot } from '@es/testing';

const PORT = 19_392;
const stackDir = mkdtempSync(join(tmpdir(), 'es-kafka-logins-'));
const env = {
  ...process.env,
  ES_STACK_DIR: stackDir,
  ES_KAFKA_PORT: String(PORT),
  ES_KAFKA_CONTROLLER_PORT: String(PORT + 1),
  ES_KAFKA_HEAP: '-Xms256m -Xmx512m',
};
const root = workspaceRoot();
const stack = (...args: string[]) =>
  execFileSync('bash', [join(root, 'infra', 'local', 'stack.sh'), ...args], {
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 240_000,
  });
const brokers = [`127.0.0.1:${PORT}`];
const USERS = ['order-service', 'saga-orchestrator', 'es-tools'];

/** The principals that cannot log in, as `stack.sh up` asks. */
const lacking = () =>
  execFileSync(
    process.execPath,
    [
      '--disable-warning=ExperimentalWarning',
      '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
      join(root, 'infra', 'kafka', 'logins.mts'),
      brokers.join(','),
      join(stackDir, 'kafka', 'credentials'),
      ...USERS,
    ],
    { encoding: 'utf8' },
  )
    .split('\n')
    .filter(Boolean);

/** Kafka's own ConfigCommand, as the super user. */
function configs(...args: string[]): void {
  execFileSync(
    'java',
    [
      '-cp',
      `${kafkaJarsDir()}/*`,
      'kafka.admin.ConfigCommand',
      '--bootstrap-server',
      brokers[0]!,
      '--command-config',
      join(stackDir, 'kafka', 'admin.properties'),
      '--alter',
      '--entity-type',
      'users',
      ...args,
    ],
    { stdio: 'ignore' },
  );
}

describe("the Kafka users' logins, checked and mended at every start", () => {
  beforeAll(() => {
    stack('up', 'kafka');
  }, 300_000);
  afterAll(() => {
    stack('down', 'kafka');
    rmSync(stackDir, { recursive: true, force: true });
  }, 120_000);

  it('sets the credentials again when Kafka lost them after a user was deleted', async () => {
    expect(lacking()).toEqual([]);
    const file = join(stackDir, 'probe.properties');
    writeFileSync(file, 'SCRAM-SHA-256=iterations=4096,password=probe-secret\n', { mode: 0o600 });
    configs('--entity-name', 'probe-user', '--add-config-file', file);
    configs('--entity-name', 'probe-user', '--delete-config', 'SCRAM-SHA-256');
    stack('down', 'kafka');
    stack('up', 'kafka');
    expect(readFileSync(join(stackDir, 'logs', 'kafka-provision.log'), 'utf8')).not.toContain(
      'Error',
    );
    expect(lacking()).toEqual([]);
    const admin = clusterKafka('logins-int', { stackDir, brokers }).admin();
    await admin.connect();
    try {
      expect(Array.isArray(await admin.listTopics())).toBe(true);
    } finally {
      await admin.disconnect();
    }
  }, 300_000);
});
