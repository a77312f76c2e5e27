// docker-compose.yml as the real `docker compose` reads it (tools/compose/ensure-compose.sh
// builds it; `config` needs no Docker engine), with a .env written by infra/compose-env.sh; and
// its Kafka as Kafka's own docker wrapper (the apache/kafka image's entrypoint, in the broker
// jars) turns a node's environment into server.properties, run here natively on loopback ports:
// the kafka-users and kafka-acls jobs' own commands create the principals and ACLs, the nodes'
// health check logs in, and each service's principal may write its own topics only.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROLES } from '@es/http-api';
import { privacyConfig } from '@es/runtime-config';
import {
  SERVICES,
  createTopic,
  eventually,
  freePort,
  kafkaFor,
  kafkaJarsDir,
  kafkaLogLevel,
  workspaceRoot,
} from '@es/testing';

interface Service {
  image?: string;
  environment?: Record<string, string | null>;
  entrypoint?: string[];
  ports?: { host_ip?: string; published?: string; target: number }[];
  volumes?: { type: string; source?: string; target: string }[];
  healthcheck?: { test: string[] };
}
interface Config {
  services: Record<string, Service>;
}

const root = workspaceRoot();
const composeFile = join(root, 'docker-compose.yml');
const variables = readFileSync(join(root, '.env.example'), 'utf8')
  .split('\n')
  .filter((line) => /^[A-Z_]+=/.test(line))
  .map((line) => line.slice(0, line.indexOf('=')));
const kafkaJars = kafkaJarsDir();
const upper = (name: string) => name.toUpperCase().replace(/-/g, '_');

let work: string;
let compose: string;
let envFile: string;
let config: Config;

function readCompose(env: string): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(
    compose,
    [
      '-f',
      composeFile,
      '--project-directory',
      root,
      '--env-file',
      env,
      'config',
      '--format',
      'json',
    ],
    // Nothing from this process's environment: only the env file may fill the variables.
    { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '', HOME: work } },
  );
}

const service = (name: string): Service => {
  const found = config.services[name];
  if (!found) throw new Error(`docker-compose.yml has no service ${name}`);
  return found;
};
const envOf = (name: string): Record<string, string> =>
  Object.fromEntries(Object.entries(service(name).environment ?? {}).map(([k, v]) => [k, v ?? '']));
/** A CMD-SHELL line as the container's shell gets it (config prints `$` as `$$`). */
const shell = (line: string) => line.replaceAll('$$', '$');

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'es-compose-'));
  compose = execFileSync('bash', [join(root, 'tools', 'compose', 'ensure-compose.sh')], {
    encoding: 'utf8',
  }).trim();
  envFile = join(work, '.env');
  execFileSync('bash', [join(root, 'infra', 'compose-env.sh'), envFile]);
  const read = readCompose(envFile);
  if (read.status !== 0) throw new Error(`docker compose config failed:\n${read.stderr}`);
  config = JSON.parse(read.stdout) as Config;
}, 600_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('docker-compose.yml, as docker compose reads it', () => {
  it('is written with every secret of .env.example, each a fresh value (infra/compose-env.sh)', () => {
    const values = readFileSync(envFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => line.split('='));
    expect(values.map(([name]) => name).sort()).toEqual([...variables].sort());
    expect(new Set(values.map(([, value]) => value)).size).toBe(variables.length);
    // Run again, it keeps them.
    const before = readFileSync(envFile, 'utf8');
    execFileSync('bash', [join(root, 'infra', 'compose-env.sh'), envFile]);
    expect(readFileSync(envFile, 'utf8')).toBe(before);
  });

  it('.env.example names every secret docker-compose.yml requires, and no other', () => {
    const required = new Set(
      [...readFileSync(composeFile, 'utf8').matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1]!),
    );
    expect([...required].sort()).toEqual([...variables].sort());
  });

  it.each(variables)('refuses to run without %s, naming it', (name) => {
    const without = join(work, `without-${name}`);
    writeFileSync(
      without,
      readFileSync(envFile, 'utf8')
        .split('\n')
        .filter((line) => !line.startsWith(`${name}=`))
        .join('\n'),
    );
    const read = readCompose(without);
    expect(read.status).not.toBe(0);
    expect(read.stderr).toContain(`set ${name} in .env`);
  });

  it('gives the services that handle personal data a master key their configuration takes, and no other one', () => {
    for (const name of ['order-service', 'payment-service']) {
      const { masterKeys } = privacyConfig(envOf(name));
      expect(masterKeys).toHaveLength(1);
      expect(masterKeys[0]).toHaveLength(32);
    }
    for (const name of ['inventory-service', 'saga-orchestrator', 'projection-service'])
      expect(envOf(name)).not.toHaveProperty('PRIVACY_MASTER_KEYS');
  });

  it('gives each service its own Kafka principal, with the password the kafka-users job sets', () => {
    const users = envOf('kafka-users');
    for (const { name } of SERVICES) {
      const env = envOf(name);
      expect({ name, user: env['KAFKA_SASL_USERNAME'] }).toEqual({ name, user: name });
      expect(env['KAFKA_SASL_PASSWORD']).toBe(users[`ES_KAFKA_PASSWORD_${upper(name)}`]);
      expect(env['KAFKA_SASL_PASSWORD']).toMatch(/^[0-9a-f]{32}$/);
    }
    // The job creates exactly the principals the ACLs name (admin is the nodes' own).
    const access = JSON.parse(
      readFileSync(join(root, 'infra', 'kafka', 'access.json'), 'utf8'),
    ) as { principals: Record<string, unknown> };
    expect(
      Object.keys(users)
        .filter((k) => k.startsWith('ES_KAFKA_PASSWORD_'))
        .sort(),
    ).toEqual(
      Object.keys(access.principals)
        .map((p) => `ES_KAFKA_PASSWORD_${upper(p)}`)
        .sort(),
    );
  });

  it("gives Keycloak every secret its realm asks for, and the services Keycloak's issuer", () => {
    const realmText = readFileSync(join(root, 'infra', 'keycloak', 'es-cqrs-realm.json'), 'utf8');
    const realm = JSON.parse(realmText) as { realm: string; roles: { realm: { name: string }[] } };
    const keycloak = envOf('keycloak');
    const placeholders = [...realmText.matchAll(/\$\{([A-Z0-9_]+)\}/g)].map((m) => m[1]!);
    expect(placeholders.length).toBeGreaterThan(0);
    expect(placeholders.filter((p) => !keycloak[p])).toEqual([]);
    expect(realm.roles.realm.map((r) => r.name).sort()).toEqual([...ROLES].sort());
    const version = /^KEYCLOAK_VERSION=(.*)$/m.exec(
      readFileSync(join(root, 'infra', 'local', 'keycloak.sh'), 'utf8'),
    )![1];
    // The image is the version the realm is checked against (tools/identity/keycloak.e2e.spec.ts).
    expect(service('keycloak').image).toBe(`quay.io/keycloak/keycloak:${version}`);
    expect(service('keycloak').volumes?.map((v) => v.target)).toContain(
      '/opt/keycloak/data/import/es-cqrs-realm.json',
    );
    const issuer = `${keycloak['KC_HOSTNAME']}/realms/${realm.realm}`;
    for (const { name } of SERVICES) {
      const env = envOf(name);
      expect({ name, issuer: env['AUTH_ISSUER'] }).toEqual({ name, issuer });
      expect(env['AUTH_JWKS_URL']).toBe(
        `http://keycloak:8080/realms/${realm.realm}/protocol/openid-connect/certs`,
      );
    }
  });
});

function properties(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((line) => line.includes('=') && !line.startsWith('#'))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

describe("docker-compose's Kafka, configured by Kafka's docker wrapper, run natively", () => {
  let node: ChildProcess | undefined;
  let generated: Record<string, string>;
  let kafkaHome: string;
  let internal: string;
  let external: string;

  beforeAll(async () => {
    const dir = join(work, 'kafka');
    for (const sub of ['defaults', 'mounted', 'final', 'data', 'bin'])
      mkdirSync(join(dir, sub), { recursive: true });
    const log4j = `log4j.rootLogger=WARN, file\nlog4j.appender.file=org.apache.log4j.FileAppender\nlog4j.appender.file.File=${dir}/server.log\nlog4j.appender.file.layout=org.apache.log4j.PatternLayout\nlog4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n`;
    for (const file of ['server.properties', 'log4j.properties', 'tools-log4j.properties'])
      writeFileSync(join(dir, 'defaults', file), file === 'server.properties' ? '' : log4j);
    // The node's environment as compose gives it, but its data here.
    const env = { ...envOf('kafka'), KAFKA_LOG_DIRS: join(dir, 'data') };
    execFileSync(
      'java',
      [
        '-cp',
        `${kafkaJars}/*`,
        'kafka.docker.KafkaDockerWrapper',
        'setup',
        ...['-D', join(dir, 'defaults'), '-M', join(dir, 'mounted'), '-F', join(dir, 'final')],
      ],
      { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: 'ignore' },
    );
    generated = properties(readFileSync(join(dir, 'final', 'server.properties'), 'utf8'));

    // Kafka's own tools, as the image has them under /opt/kafka/bin, from the same jars.
    kafkaHome = dir;
    const tool = (name: string, main: string) => {
      const path = join(dir, 'bin', name);
      writeFileSync(path, `#!/bin/sh\nexec java -cp '${kafkaJars}/*' ${main} "$@"\n`);
      chmodSync(path, 0o755);
    };
    tool('kafka-configs.sh', 'kafka.admin.ConfigCommand');
    tool('kafka-broker-api-versions.sh', 'kafka.admin.BrokerApiVersionsCommand');

    // One node on loopback: only the addresses and the copies' counts differ from compose's.
    const [i, e, c] = [await freePort(), await freePort(), await freePort()];
    internal = `127.0.0.1:${i}`;
    external = `127.0.0.1:${e}`;
    const local = {
      ...generated,
      listeners: `INTERNAL://${internal},EXTERNAL://${external},CONTROLLER://127.0.0.1:${c}`,
      'advertised.listeners': `INTERNAL://${internal},EXTERNAL://${external}`,
      'controller.quorum.voters': `1@127.0.0.1:${c}`,
      'default.replication.factor': '1',
      'min.insync.replicas': '1',
      'offsets.topic.replication.factor': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
    };
    writeFileSync(
      join(dir, 'local.properties'),
      Object.entries(local)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
    node = spawn(
      'java',
      [
        '-Xmx512m',
        `-Dlog4j.configuration=file:${join(dir, 'final', 'log4j.properties')}`,
        '-cp',
        `${kafkaJars}/*`,
        'kafka.Kafka',
        join(dir, 'local.properties'),
      ],
      { stdio: 'ignore' },
    );
  }, 120_000);

  afterAll(async () => {
    if (node && node.exitCode === null) {
      const exited = new Promise((resolve) => node!.once('exit', resolve));
      node.kill('SIGKILL');
      await exited;
    }
  });

  it('keeps the topics on the volume and secures every listener as the native stack does', () => {
    expect(envOf('kafka')['KAFKA_LOG_DIRS']).toBe(
      service('kafka').volumes?.find((v) => v.source === 'kafka-data')?.target,
    );
    const native = properties(
      readFileSync(join(root, 'infra', 'kafka', 'server.properties.template'), 'utf8'),
    );
    for (const key of [
      'sasl.mechanism.inter.broker.protocol',
      'sasl.mechanism.controller.protocol',
      'authorizer.class.name',
      'allow.everyone.if.no.acl.found',
      'super.users',
      'listener.name.controller.sasl.enabled.mechanisms',
    ])
      expect({ key, value: generated[key] }).toEqual({ key, value: native[key] });
    for (const listener of ['internal', 'external']) {
      expect(generated[`listener.name.${listener}.sasl.enabled.mechanisms`]).toBe(
        native['listener.name.client.sasl.enabled.mechanisms'],
      );
      expect(generated[`listener.name.${listener}.scram-sha-256.sasl.jaas.config`]).toContain(
        'ScramLoginModule required',
      );
      expect(generated[`listener.name.${listener}.plain.sasl.jaas.config`]).toContain(
        'username="admin"',
      );
    }
    expect(generated['listener.name.controller.plain.sasl.jaas.config']).toContain(
      'username="admin"',
    );
    expect(
      generated['listener.security.protocol.map']!.split(',').map((m) => m.split(':')[1]),
    ).toEqual(['SASL_PLAINTEXT', 'SASL_PLAINTEXT', 'SASL_PLAINTEXT']);
  });

  it("answers the nodes' health check, which logs in as the super user", async () => {
    const check = (env: Record<string, string>) =>
      spawnSync(
        'sh',
        [
          '-c',
          shell(service('kafka').healthcheck!.test[1]!)
            .replace('/opt/kafka', kafkaHome)
            .replace('127.0.0.1:19092', internal),
        ],
        { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 60_000 },
      ).status;
    await eventually(
      () => {
        expect(check(envOf('kafka'))).toBe(0);
      },
      { timeoutMs: 90_000 },
    );
    const wrong = envOf('kafka');
    wrong['KAFKA_LISTENER_NAME_INTERNAL_PLAIN_SASL_JAAS_CONFIG'] = wrong[
      'KAFKA_LISTENER_NAME_INTERNAL_PLAIN_SASL_JAAS_CONFIG'
    ]!.replace(/password="[^"]*"/, 'password="wrong"');
    expect(check(wrong)).not.toBe(0);
  }, 120_000);

  it("creates the principals and ACLs with the jobs' own commands: each service writes only its own topics", async () => {
    const users = service('kafka-users');
    execFileSync('bash', [join(root, 'infra', 'kafka', 'compose-users.sh')], {
      env: {
        PATH: process.env['PATH'] ?? '',
        ...envOf('kafka-users'),
        KAFKA_HOME: kafkaHome,
        ES_KAFKA_BOOTSTRAP: internal,
      },
      stdio: 'ignore',
    });
    expect(users.entrypoint).toEqual(['bash', '/opt/es/compose-users.sh']);
    const acls = service('kafka-acls').entrypoint!;
    execFileSync(
      acls[0]!,
      [acls[1]!, shell(acls[2]!).replace('kafka:19092,kafka-2:19092,kafka-3:19092', internal)],
      // The job's working directory is the build stage's workspace: the repository's layout.
      {
        cwd: root,
        env: { PATH: process.env['PATH'] ?? '', ...envOf('kafka-acls') },
        stdio: 'ignore',
      },
    );

    const as = (name: string, password?: string) =>
      kafkaFor(
        {
          clientId: `compose-${name}`,
          brokers: [external],
          sasl: {
            mechanism: 'scram-sha-256',
            username: name,
            password: password ?? envOf(name)['KAFKA_SASL_PASSWORD'] ?? '',
          },
        },
        kafkaLogLevel.NOTHING,
      );
    const admin = as('es-tools', envOf('kafka-users')['ES_KAFKA_PASSWORD_ES_TOOLS']).admin();
    await admin.connect();
    try {
      await createTopic(admin, 'orders.events', 1);
    } finally {
      await admin.disconnect();
    }
    const send = async (name: string, password?: string) => {
      const producer = as(name, password).producer({ retry: { retries: 0 } });
      try {
        await producer.connect();
        await producer.send({ topic: 'orders.events', messages: [{ key: 'k', value: 'v' }] });
        return 'written';
      } catch (error) {
        const { type, message } = error as { type?: string; message: string };
        return `${type ?? ''} ${message}`;
      } finally {
        await producer.disconnect();
      }
    };
    expect(await send('order-service')).toBe('written');
    const refused = /TOPIC_AUTHORIZATION_FAILED|topic authorization failed/i;
    expect(await send('inventory-service')).toMatch(refused);
    expect(await send('projection-service')).toMatch(refused);
    expect(await send('order-service', 'not-its-password')).toMatch(/authentication failed/i);
  }, 180_000);
});
