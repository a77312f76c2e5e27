// The system the fault harness runs: every service as a real process (its built dist, as
// `npm start` runs it), two order-service instances (so a relay leader can be killed while a
// stand-by takes over), on a Kafka cluster of its own (three KRaft nodes, or one, in a stack
// directory of its own on ports of its own) and on fresh databases of the local PostgreSQL and
// MongoDB wire protocol (FerretDB), so that what the invariant checker reads is this run's and
// nothing else's.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { Pool } from 'pg';
import type { Kafka } from 'kafkajs';
import { mongoConfig, postgresConfig } from '@es/runtime-config';
import {
  SERVICE_DATABASES,
  clusterKafka,
  kafkaPassfile,
  type DatabaseName,
  createTestDatabase,
  dropDatabase,
  freePort,
  loadStackEnv,
  stackDir,
  startService,
  uniqueName,
  workspaceRoot,
  type RunningService,
  type TestDatabase,
} from '@es/testing';

/** A service's database on the local PostgreSQL (the saga orchestrator's is `sagas`). */
export const DATABASES = SERVICE_DATABASES;

/** What runs: an instance name, its service, and whether it takes HTTP load. */
export const INSTANCES = [
  { instance: 'order-service', service: 'order-service' },
  { instance: 'order-service-b', service: 'order-service' },
  { instance: 'inventory-service', service: 'inventory-service' },
  { instance: 'payment-service', service: 'payment-service' },
  { instance: 'saga-orchestrator', service: 'saga-orchestrator' },
  { instance: 'projection-service', service: 'projection-service' },
] as const;
export type InstanceName = (typeof INSTANCES)[number]['instance'];

export interface KafkaCluster {
  readonly nodes: number;
  readonly brokers: readonly string[];
  /** Its principals' passwords (its own, as its nodes were formatted with them). */
  readonly passfile: string;
  /** A client as the tools' principal (es-tools), which may do anything. */
  client(clientId: string): Kafka;
  /** SIGKILL of one node (1-based); its data stays. */
  kill(node: number): void;
  /** Starts the nodes that are not running and waits until they serve. */
  up(): void;
  down(): void;
}

/**
 * The run's own Kafka cluster, in `.local/chaos-kafka` beside the stack: a cluster left running
 * by a run that was interrupted (Ctrl-C ends the services, not the brokers the stack detached)
 * is stopped and deleted before this one starts, so its ports are free.
 */
function kafkaCluster(nodes: number, port: number): KafkaCluster {
  const dir = join(stackDir(), '..', 'chaos-kafka');
  const env = {
    ...process.env,
    ES_STACK_DIR: dir,
    ES_KAFKA_NODES: String(nodes),
    ES_KAFKA_PORT: String(port),
    ES_KAFKA_CONTROLLER_PORT: String(port + 1),
    ES_KAFKA_HEAP: process.env['ES_KAFKA_HEAP'] ?? '-Xms256m -Xmx768m',
  };
  const stack = (...args: string[]) =>
    execFileSync('bash', [join(workspaceRoot(), 'infra', 'local', 'stack.sh'), ...args], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 240_000,
    });
  if (existsSync(dir)) {
    try {
      stack('down', 'kafka');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const brokers = Array.from({ length: nodes }, (_, i) => `127.0.0.1:${port + 2 * i}`);
  return {
    nodes,
    brokers,
    passfile: kafkaPassfile(dir),
    client: (clientId) => clusterKafka(clientId, { stackDir: dir, brokers }),
    kill: (node) => {
      const pidFile = join(dir, 'run', node === 1 ? 'kafka.pid' : `kafka-${node}.pid`);
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
    },
    up: () => stack('up', 'kafka'),
    down: () => {
      try {
        stack('down', 'kafka');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The databases of runs that were interrupted before they could drop theirs (runs do not
 * overlap): each PostgreSQL one holds a replication slot that would keep WAL for ever.
 */
async function dropLeftovers(): Promise<void> {
  const admin = new Pool({ ...postgresConfig('postgres'), max: 1 });
  let names: string[];
  try {
    const { rows } = await admin.query<{ datname: string }>(
      String.raw`SELECT datname FROM pg_database WHERE datname LIKE 'chaos\_%'`,
    );
    names = rows.map((r) => r.datname);
  } finally {
    await admin.end();
  }
  for (const name of names) await dropDatabase(name);
  const mongo = new MongoClient(mongoConfig().url, { serverSelectionTimeoutMS: 5_000 });
  try {
    const { databases } = await mongo.db().admin().listDatabases({ nameOnly: true });
    for (const { name } of databases)
      if (name.startsWith('chaos_rm_')) await mongo.db(name).dropDatabase();
  } finally {
    await mongo.close();
  }
}

export interface ChaosSystemOptions {
  readonly kafkaNodes: number;
  /** Environment for every service (deadlines, sweep intervals). */
  readonly env?: Readonly<Record<string, string>>;
}

export class ChaosSystem {
  private readonly running = new Map<InstanceName, RunningService>();
  private readonly ports = new Map<InstanceName, number>();
  private extras: RunningService[] = [];

  private constructor(
    readonly kafka: KafkaCluster,
    readonly databases: Readonly<Record<DatabaseName, TestDatabase>>,
    readonly mongoDatabase: string,
    private readonly env: Readonly<Record<string, string>>,
  ) {}

  static async start(options: ChaosSystemOptions): Promise<ChaosSystem> {
    loadStackEnv();
    await dropLeftovers();
    const kafka = kafkaCluster(options.kafkaNodes, 19_292);
    kafka.up();
    const entries = await Promise.all(
      Object.values(DATABASES).map(
        async (name) => [name, await createTestDatabase(`chaos_${name}`)] as const,
      ),
    );
    const databases = Object.fromEntries(entries) as Record<DatabaseName, TestDatabase>;
    const system = new ChaosSystem(kafka, databases, uniqueName('chaos_rm'), {
      KAFKA_BROKERS: kafka.brokers.join(','),
      KAFKA_PASSFILE: kafka.passfile,
      ...options.env,
    });
    try {
      for (const { instance } of INSTANCES) system.ports.set(instance, await freePort());
      await Promise.all(INSTANCES.map(({ instance }) => system.startInstance(instance)));
    } catch (error) {
      await system.stop();
      throw error;
    }
    return system;
  }

  private serviceOf(instance: InstanceName) {
    const spec = INSTANCES.find((i) => i.instance === instance);
    if (!spec) throw new Error(`no instance ${instance}`);
    return spec.service;
  }

  private envOf(service: string): Record<string, string> {
    const database = DATABASES[service as keyof typeof DATABASES] as DatabaseName | undefined;
    return {
      ...this.env,
      MONGO_DATABASE: this.mongoDatabase,
      ...(database ? { PGDATABASE: this.databases[database].name } : {}),
    };
  }

  async startInstance(instance: InstanceName): Promise<RunningService> {
    const service = this.serviceOf(instance);
    const port = this.ports.get(instance);
    if (port === undefined) throw new Error(`no port for ${instance}`);
    const started = await startService(
      { name: service, port },
      { env: this.envOf(service), readyTimeoutMs: 120_000 },
    );
    this.running.set(instance, started);
    return started;
  }

  /** Another instance of a service, outside the load (a consumer joining its group). */
  async startExtra(service: string): Promise<RunningService> {
    const started = await startService(
      { name: service, port: await freePort() },
      { env: this.envOf(service), readyTimeoutMs: 120_000 },
    );
    this.extras.push(started);
    return started;
  }

  instance(instance: InstanceName): RunningService {
    const found = this.running.get(instance);
    if (!found) throw new Error(`${instance} is not running`);
    return found;
  }

  /** The instance's address, running or not (a client retries while it restarts). */
  url(instance: InstanceName, path = ''): string {
    return `http://127.0.0.1:${this.ports.get(instance)}${path}`;
  }

  pool(database: DatabaseName): Pool {
    return this.databases[database].pool;
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.running.values(), ...this.extras].map((s) => s.stop()));
    this.running.clear();
    this.extras = [];
    if (process.env['CHAOS_KEEP'] === '1') return;
    await Promise.allSettled(Object.values(this.databases).map((db) => db.drop()));
    const mongo = new MongoClient(mongoConfig().url, { serverSelectionTimeoutMS: 5_000 });
    try {
      await mongo.db(this.mongoDatabase).dropDatabase();
    } catch {
      // dropped with the stack's next reset
    } finally {
      await mongo.close();
    }
    this.kafka.down();
  }
}
