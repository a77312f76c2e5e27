// Typed runtime configuration from the environment. Defaults are the local addresses in
// docs/architecture.md (Runtime pieces), so a service started on the local stack needs no settings beyond the
// generated Postgres password; every bad variable is named in one error.
import {
  kafkaPasswordFromFile,
  masterKeysFromFile,
  passwordFromPassfile,
  type PassfileKey,
} from './passfile';

export interface PostgresConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | undefined;
  readonly database: string;
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** The principal the client authenticates as (SASL/SCRAM-SHA-256), when one is set. */
  readonly sasl?: KafkaSasl;
}

export interface KafkaSasl {
  readonly mechanism: 'scram-sha-256';
  readonly username: string;
  readonly password: string;
}

export interface MongoConfig {
  readonly url: string;
  /** The database holding the read models and their registry. */
  readonly database: string;
}

export interface HttpConfig {
  readonly host: string;
  readonly port: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(readonly problems: readonly { variable: string; problem: string }[]) {
    super(
      `invalid configuration: ${problems.map((p) => `${p.variable}: ${p.problem}`).join('; ')}`,
    );
    this.name = 'ConfigError';
  }
}

/** Collects problems so one error can name every bad variable at once. */
class Reader {
  readonly problems: { variable: string; problem: string }[] = [];
  constructor(private readonly env: Env) {}

  string(variable: string, fallback: string): string {
    const value = this.env[variable];
    if (value === undefined || value === '') return fallback;
    return value;
  }

  optional(variable: string): string | undefined {
    const value = this.env[variable];
    return value === undefined || value === '' ? undefined : value;
  }

  port(variable: string, fallback: number): number {
    return this.integer(variable, fallback, 1, 65535, 'a port number');
  }

  seconds(variable: string, fallback: number): number {
    return this.integer(variable, fallback, 0, 300, 'seconds');
  }

  milliseconds(variable: string, fallback: number): number {
    return this.integer(variable, fallback, 100, 86_400_000, 'milliseconds');
  }

  hours(variable: string, fallback: number): number {
    return this.integer(variable, fallback, 1, 8_760, 'hours');
  }

  private integer(variable: string, fallback: number, min: number, max: number, what: string) {
    const raw = this.env[variable];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push({ variable, problem: `expected ${what} ${min}-${max}, got '${raw}'` });
      return fallback;
    }
    return value;
  }

  /**
   * A secret: `variable`, else what `lookup` finds in the file `fileVariable` names (a file
   * that cannot be read, or that others may, is a problem of `fileVariable`).
   */
  secret(
    variable: string,
    fileVariable: string,
    lookup: (file: string) => string | undefined,
  ): string | undefined {
    const value = this.optional(variable);
    const file = this.optional(fileVariable);
    if (value !== undefined || file === undefined) return value;
    try {
      return lookup(file);
    } catch (error) {
      this.problems.push({ variable: fileVariable, problem: (error as Error).message });
      return undefined;
    }
  }

  oneOf<T extends string>(variable: string, choices: readonly T[], fallback: T): T {
    const raw = this.env[variable];
    if (raw === undefined || raw === '') return fallback;
    if ((choices as readonly string[]).includes(raw)) return raw as T;
    this.problems.push({
      variable,
      problem: `expected one of ${choices.join(', ')}, got '${raw}'`,
    });
    return fallback;
  }

  /** Origins, comma-separated, each scheme://host[:port] (ALLOWED_ORIGINS). */
  origins(variable: string): readonly string[] {
    const raw = this.env[variable];
    if (raw === undefined || raw.trim() === '') return [];
    const items = raw.split(',').map((s) => s.trim());
    const bad = items.filter((item) => !/^https?:\/\/[^/\s]+$/.test(item));
    if (bad.length > 0) {
      this.problems.push({
        variable,
        problem: `expected origins (scheme://host[:port], comma-separated), got '${bad.join(', ')}'`,
      });
      return [];
    }
    return items;
  }

  list(variable: string, fallback: readonly string[]): readonly string[] {
    const raw = this.env[variable];
    if (raw === undefined || raw === '') return fallback;
    const items = raw.split(',').map((s) => s.trim());
    const bad = items.filter((item) => !/^[^:\s]+:\d{1,5}$/.test(item));
    if (bad.length > 0) {
      this.problems.push({ variable, problem: `expected host:port[,host:port...], got '${raw}'` });
      return fallback;
    }
    return items;
  }

  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

export const LOCAL_DEFAULTS = {
  host: '127.0.0.1',
  postgresPort: 55432,
  postgresUser: 'es',
  kafkaBrokers: ['127.0.0.1:9092'],
  mongoUrl: 'mongodb://127.0.0.1:27017/',
  mongoDatabase: 'read_models',
} as const;

/** Where the service's connection goes, and as whom (PGHOST, PGPORT, PGUSER, PGDATABASE). */
function postgresAddress(r: Reader, database: string): PassfileKey {
  return {
    host: r.string('PGHOST', LOCAL_DEFAULTS.host),
    port: r.port('PGPORT', LOCAL_DEFAULTS.postgresPort),
    user: r.string('PGUSER', LOCAL_DEFAULTS.postgresUser),
    database: r.string('PGDATABASE', database),
  };
}

/**
 * The service's own connection. Its password is PGPASSWORD, else the matching line of
 * PGPASSFILE (passfile.ts), never a process argument.
 */
export function postgresConfig(database: string, env: Env = process.env): PostgresConfig {
  const r = new Reader(env);
  const address = postgresAddress(r, database);
  const password = r.secret('PGPASSWORD', 'PGPASSFILE', (file) =>
    passwordFromPassfile(file, address),
  );
  r.done();
  return { ...address, password };
}

/**
 * The role that runs the schema's migrations and owns its tables (PG_MIGRATION_USER; its
 * password PG_MIGRATION_PASSWORD or PGPASSFILE), when it is not the service's own: the service
 * migrates with it at start, grants its own role what it needs (events: insert and read only),
 * then runs as its own role. Undefined when not set: the service's role migrates, if it may.
 */
export function postgresMigrationConfig(
  database: string,
  env: Env = process.env,
): PostgresConfig | undefined {
  const r = new Reader(env);
  const service = postgresAddress(r, database);
  const user = r.optional('PG_MIGRATION_USER');
  if (user === undefined || user === service.user) {
    r.done();
    return undefined;
  }
  const address = { ...service, user };
  const password = r.secret('PG_MIGRATION_PASSWORD', 'PGPASSFILE', (file) =>
    passwordFromPassfile(file, address),
  );
  r.done();
  return { ...address, password };
}

/**
 * How long a service waits for PostgreSQL to answer one query before it gives the connection up
 * (PG_QUERY_TIMEOUT_MS, 30 s): a server that stopped answering makes a request a 503 then.
 */
export function postgresQueryTimeoutMs(env: Env = process.env): number {
  const r = new Reader(env);
  const ms = r.milliseconds('PG_QUERY_TIMEOUT_MS', 30_000);
  r.done();
  return ms;
}

/**
 * KAFKA_BROKERS, and the principal: KAFKA_SASL_USERNAME, its password KAFKA_SASL_PASSWORD or
 * its line (`user:password`) of KAFKA_PASSFILE, which others may not read (docs/security.md).
 */
export function kafkaConfig(clientId: string, env: Env = process.env): KafkaConfig {
  const r = new Reader(env);
  const brokers = r.list('KAFKA_BROKERS', LOCAL_DEFAULTS.kafkaBrokers);
  const username = r.optional('KAFKA_SASL_USERNAME');
  const password =
    username === undefined
      ? undefined
      : r.secret('KAFKA_SASL_PASSWORD', 'KAFKA_PASSFILE', (file) =>
          kafkaPasswordFromFile(file, username),
        );
  if (username !== undefined && password === undefined)
    r.problems.push({
      variable: 'KAFKA_SASL_USERNAME',
      problem: `no password for ${username}: set KAFKA_SASL_PASSWORD, or KAFKA_PASSFILE to a file with its line`,
    });
  r.done();
  return username === undefined || password === undefined
    ? { brokers, clientId }
    : { brokers, clientId, sasl: { mechanism: 'scram-sha-256', username, password } };
}

export interface PrivacyConfig {
  /**
   * The master keys the data subjects' keys are wrapped under (docs/privacy.md), 32 bytes
   * each: the first wraps new keys, the others still unwrap those they wrapped (a rotation).
   */
  readonly masterKeys: readonly Buffer[];
  /**
   * The key vault's database (PRIVACY_VAULT_DATABASE, default `vault`), on PGHOST:PGPORT unless
   * PRIVACY_VAULT_HOST / PRIVACY_VAULT_PORT say elsewhere; the service's own role logs in.
   */
  readonly vaultDatabase: string;
  readonly vaultHost: string | undefined;
  readonly vaultPort: number | undefined;
  /**
   * How long a data key is kept in memory (PRIVACY_KEY_CACHE_MS, default 60000): the bound on
   * how long another process can still open a value after an erasure it was not told of.
   */
  readonly keyCacheMs: number;
}

/**
 * The master keys: PRIVACY_MASTER_KEYS (base64, comma-separated, the current first), or
 * PRIVACY_MASTER_KEYS_FILE, one a line, a file others may not read. Required: personal data is
 * never written in the clear for want of a key.
 */
export function privacyConfig(env: Env = process.env): PrivacyConfig {
  const r = new Reader(env);
  const text = r.secret('PRIVACY_MASTER_KEYS', 'PRIVACY_MASTER_KEYS_FILE', masterKeysFromFile);
  const masterKeys: Buffer[] = [];
  if (text === undefined)
    r.problems.push({
      variable: 'PRIVACY_MASTER_KEYS',
      problem: 'no master key: set it, or PRIVACY_MASTER_KEYS_FILE to a file that holds them',
    });
  else
    text.split(',').forEach((encoded, i) => {
      const key = Buffer.from(encoded.trim(), 'base64');
      if (key.length === 32 && key.toString('base64') === encoded.trim()) masterKeys.push(key);
      else
        r.problems.push({
          variable: env['PRIVACY_MASTER_KEYS'] ? 'PRIVACY_MASTER_KEYS' : 'PRIVACY_MASTER_KEYS_FILE',
          problem: `master key ${i + 1} is not 32 bytes of base64 (openssl rand -base64 32 makes one)`,
        });
    });
  const vaultDatabase = r.string('PRIVACY_VAULT_DATABASE', 'vault');
  const vaultHost = r.optional('PRIVACY_VAULT_HOST');
  const vaultPort = r.optional('PRIVACY_VAULT_PORT') ? r.port('PRIVACY_VAULT_PORT', 1) : undefined;
  const keyCacheMs = r.milliseconds('PRIVACY_KEY_CACHE_MS', 60_000);
  r.done();
  return { masterKeys, vaultDatabase, vaultHost, vaultPort, keyCacheMs };
}

export function mongoConfig(env: Env = process.env): MongoConfig {
  const r = new Reader(env);
  const url = r.string('MONGO_URL', LOCAL_DEFAULTS.mongoUrl);
  if (!/^mongodb(\+srv)?:\/\//.test(url)) {
    r.problems.push({ variable: 'MONGO_URL', problem: `expected a mongodb:// URL, got '${url}'` });
  }
  const database = r.string('MONGO_DATABASE', LOCAL_DEFAULTS.mongoDatabase);
  r.done();
  return { url, database };
}

export function httpConfig(defaultPort: number, env: Env = process.env): HttpConfig {
  const r = new Reader(env);
  const config = { host: r.string('HOST', LOCAL_DEFAULTS.host), port: r.port('PORT', defaultPort) };
  r.done();
  return config;
}

export interface SagaConfig {
  /** How long a saga step waits for its participant's reply before it counts as missed. */
  readonly stepDeadlineMs: number;
}

export function sagaConfig(env: Env = process.env): SagaConfig {
  const r = new Reader(env);
  const config = { stepDeadlineMs: r.milliseconds('SAGA_STEP_DEADLINE_MS', 10_000) };
  r.done();
  return config;
}

export interface OrderVerdictConfig {
  /** A PENDING order this old without a verdict has its OrderCreated published again. */
  readonly nudgeAfterMs: number;
  /** A PENDING order this old without a verdict is rejected (NO_VERDICT); its saga compensates. */
  readonly deadlineMs: number;
  /** How often every order-service instance looks for them. */
  readonly sweepEveryMs: number;
}

export function orderVerdictConfig(env: Env = process.env): OrderVerdictConfig {
  const r = new Reader(env);
  const config = {
    nudgeAfterMs: r.milliseconds('ORDER_VERDICT_NUDGE_MS', 30_000),
    deadlineMs: r.milliseconds('ORDER_VERDICT_DEADLINE_MS', 300_000),
    sweepEveryMs: r.milliseconds('ORDER_VERDICT_SWEEP_MS', 1_000),
  };
  if (config.deadlineMs <= config.nudgeAfterMs)
    r.problems.push({
      variable: 'ORDER_VERDICT_DEADLINE_MS',
      problem: `must be longer than ORDER_VERDICT_NUDGE_MS (${config.nudgeAfterMs}), got ${config.deadlineMs}`,
    });
  r.done();
  return config;
}

export interface ReadModelConfig {
  /** How long a read given a consistency token waits for the read model before answering 409. */
  readonly consistencyWaitMs: number;
  /** The bound of each read of a read model: past it, the request is a 503 ENGINE_UNAVAILABLE. */
  readonly operationTimeoutMs: number;
}

export function readModelConfig(env: Env = process.env): ReadModelConfig {
  const r = new Reader(env);
  const config = {
    consistencyWaitMs: r.milliseconds('CONSISTENCY_WAIT_MS', 2_000),
    operationTimeoutMs: r.milliseconds('MONGO_OPERATION_TIMEOUT_MS', 5_000),
  };
  r.done();
  return config;
}

export interface RelayConfig {
  /**
   * How the outbox reaches Kafka: `decoding` reads it from PostgreSQL's logical decoding (a
   * replication slot; needs wal_level=logical and the REPLICATION attribute), `polling` reads
   * the table and waits for the oldest transaction running in the cluster (docs/event-store.md).
   */
  readonly mode: 'decoding' | 'polling';
}

export function relayConfig(env: Env = process.env): RelayConfig {
  const r = new Reader(env);
  const config = {
    mode: r.oneOf('OUTBOX_RELAY_MODE', ['decoding', 'polling'] as const, 'decoding'),
  };
  r.done();
  return config;
}

export interface AuthConfig {
  /** The identity provider's issuer URL: tokens must name it (`iss`). */
  readonly issuer: string;
  /** The services' audience: tokens must be for it (`aud`). */
  readonly audience: string;
  /** Where the provider publishes its signing keys. */
  readonly jwksUrl: string;
  /** How far the token's times may be off this machine's clock. */
  readonly clockSkewSeconds: number;
  /** /metrics answers beyond loopback too. */
  readonly metricsOpen: boolean;
  /** /docs answers beyond loopback too. */
  readonly docsOpen: boolean;
  /** The origins whose pages may call the API from a browser (none by default). */
  readonly allowedOrigins: readonly string[];
}

/**
 * Who issues the tokens the services accept (docs/security.md): AUTH_ISSUER (the local
 * provider, http://127.0.0.1:4400, by default), AUTH_AUDIENCE (es-api), AUTH_JWKS_URL (the
 * issuer's /jwks; Keycloak's is <issuer>/protocol/openid-connect/certs), AUTH_CLOCK_SKEW_SECONDS
 * (30); METRICS_OPEN and DOCS_OPEN (false: loopback only); ALLOWED_ORIGINS (none: no browser
 * page of another origin may call).
 */
export function authConfig(env: Env = process.env): AuthConfig {
  const r = new Reader(env);
  const issuer = r.string('AUTH_ISSUER', `http://${LOCAL_DEFAULTS.host}:4400`);
  if (!/^https?:\/\/[^\s]+$/.test(issuer))
    r.problems.push({
      variable: 'AUTH_ISSUER',
      problem: `expected an http(s) URL, got '${issuer}'`,
    });
  const flag = (variable: string) =>
    r.oneOf(variable, ['true', 'false'] as const, 'false') === 'true';
  const config = {
    issuer,
    audience: r.string('AUTH_AUDIENCE', 'es-api'),
    jwksUrl: r.string('AUTH_JWKS_URL', `${issuer.replace(/\/$/, '')}/jwks`),
    clockSkewSeconds: r.seconds('AUTH_CLOCK_SKEW_SECONDS', 30),
    metricsOpen: flag('METRICS_OPEN'),
    docsOpen: flag('DOCS_OPEN'),
    allowedOrigins: r.origins('ALLOWED_ORIGINS'),
  };
  r.done();
  return config;
}

export interface IdempotencyConfig {
  /** How long an HTTP command's Idempotency-Key answers a retry with the first outcome. */
  readonly retentionMs: number;
  /** How often each instance deletes the keys past it. */
  readonly purgeEveryMs: number;
}

/** IDEMPOTENCY_KEY_RETENTION_HOURS (24) and IDEMPOTENCY_PURGE_EVERY_MS (10 min). */
export function idempotencyConfig(env: Env = process.env): IdempotencyConfig {
  const r = new Reader(env);
  const config = {
    retentionMs: r.hours('IDEMPOTENCY_KEY_RETENTION_HOURS', 24) * 3_600_000,
    purgeEveryMs: r.milliseconds('IDEMPOTENCY_PURGE_EVERY_MS', 600_000),
  };
  r.done();
  return config;
}
