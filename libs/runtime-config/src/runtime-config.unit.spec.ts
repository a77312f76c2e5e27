import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { passwordIn } from './passfile';
import {
  ConfigError,
  httpConfig,
  kafkaConfig,
  mongoConfig,
  orderVerdictConfig,
  postgresConfig,
  postgresMigrationConfig,
  privacyConfig,
  readModelConfig,
  relayConfig,
} from './runtime-config';

describe('runtime config', () => {
  it('defaults to the local addresses of docs/architecture.md', () => {
    expect(postgresConfig('orders', {})).toEqual({
      host: '127.0.0.1',
      port: 55432,
      user: 'es',
      password: undefined,
      database: 'orders',
    });
    expect(kafkaConfig('order-service', {}).brokers).toEqual(['127.0.0.1:9092']);
    expect(mongoConfig({})).toEqual({ url: 'mongodb://127.0.0.1:27017/', database: 'read_models' });
    expect(httpConfig(3001, {})).toEqual({ host: '127.0.0.1', port: 3001 });
    expect(readModelConfig({})).toEqual({ consistencyWaitMs: 2_000, operationTimeoutMs: 5_000 });
    expect(relayConfig({})).toEqual({ mode: 'decoding' });
    expect(orderVerdictConfig({})).toEqual({
      nudgeAfterMs: 30_000,
      deadlineMs: 300_000,
      sweepEveryMs: 1_000,
    });
  });

  it('reads the environment', () => {
    const env = {
      PGHOST: 'db',
      PGPORT: '5432',
      PGUSER: 'u',
      PGPASSWORD: 'p',
      KAFKA_BROKERS: 'a:1, b:2',
    };
    expect(postgresConfig('orders', env)).toMatchObject({
      host: 'db',
      port: 5432,
      user: 'u',
      password: 'p',
    });
    expect(kafkaConfig('x', env).brokers).toEqual(['a:1', 'b:2']);
    expect(mongoConfig({ MONGO_DATABASE: 'rm_test' }).database).toBe('rm_test');
    expect(readModelConfig({ CONSISTENCY_WAIT_MS: '15000' }).consistencyWaitMs).toBe(15_000);
    expect(readModelConfig({ MONGO_OPERATION_TIMEOUT_MS: '750' }).operationTimeoutMs).toBe(750);
    expect(relayConfig({ OUTBOX_RELAY_MODE: 'polling' }).mode).toBe('polling');
  });

  it('names every bad variable in one error', () => {
    const attempt = () => postgresConfig('orders', { PGPORT: 'abc' });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow("PGPORT: expected a port number 1-65535, got 'abc'");
    expect(() => kafkaConfig('x', { KAFKA_BROKERS: 'nohostport' })).toThrow(/KAFKA_BROKERS/);
    expect(() => mongoConfig({ MONGO_URL: 'http://x' })).toThrow(
      /MONGO_URL: expected a mongodb:\/\/ URL/,
    );
    expect(() => httpConfig(3001, { PORT: '70000' })).toThrow(/PORT/);
    expect(() => relayConfig({ OUTBOX_RELAY_MODE: 'wal' })).toThrow(
      "OUTBOX_RELAY_MODE: expected one of decoding, polling, got 'wal'",
    );
    expect(() =>
      orderVerdictConfig({ ORDER_VERDICT_NUDGE_MS: '60000', ORDER_VERDICT_DEADLINE_MS: '60000' }),
    ).toThrow('ORDER_VERDICT_DEADLINE_MS: must be longer than ORDER_VERDICT_NUDGE_MS (60000)');
  });

  describe('PostgreSQL passwords: the environment, else the passfile, never an argument', () => {
    const key = { host: '127.0.0.1', port: 55432, database: 'orders', user: 'es_orders' };

    it('reads a passfile as libpq does: wildcards, escapes, the first matching line', () => {
      const text = [
        '# comment',
        '',
        'other:55432:orders:es_orders:no',
        '127.0.0.1:55432:orders:es_inventory:no',
        '*:*:orders:es_orders:pa\\:ss\\\\word',
        '*:*:*:es_orders:later',
      ].join('\n');
      expect(passwordIn(text, key)).toBe('pa:ss\\word');
      expect(passwordIn(text, { ...key, database: 'sagas' })).toBe('later');
      expect(passwordIn(text, { ...key, user: 'nobody' })).toBeUndefined();
      expect(passwordIn('*:*:*:short', key)).toBeUndefined();
    });

    function passfile(text: string, mode: number): string {
      const file = join(mkdtempSync(join(tmpdir(), 'pgpass-')), 'pgpass');
      writeFileSync(file, text);
      chmodSync(file, mode);
      return file;
    }

    it("gives each role its own line's password, PGPASSWORD first", () => {
      const file = passfile('*:*:*:es_orders:service\n*:*:*:es:owner\n', 0o600);
      const env = { PGPASSFILE: file, PGUSER: 'es_orders', PG_MIGRATION_USER: 'es' };
      expect(postgresConfig('orders', env).password).toBe('service');
      expect(postgresMigrationConfig('orders', env)).toMatchObject({
        user: 'es',
        password: 'owner',
        database: 'orders',
      });
      expect(postgresConfig('orders', { ...env, PGPASSWORD: 'env' }).password).toBe('env');
      expect(
        postgresMigrationConfig('orders', { ...env, PG_MIGRATION_PASSWORD: 'menv' })?.password,
      ).toBe('menv');
      // No migration role, or the service's own: the service's role migrates.
      expect(postgresMigrationConfig('orders', { ...env, PG_MIGRATION_USER: '' })).toBeUndefined();
      expect(
        postgresMigrationConfig('orders', { ...env, PG_MIGRATION_USER: 'es_orders' }),
      ).toBeUndefined();
    });

    it('refuses a passfile others may read, and a missing one, naming PGPASSFILE', () => {
      const open = passfile('*:*:*:es_orders:service\n', 0o644);
      expect(() => postgresConfig('orders', { PGPASSFILE: open, PGUSER: 'es_orders' })).toThrow(
        /PGPASSFILE: .* may be read by group or others \(mode 644\): chmod 600 it/,
      );
      expect(() => postgresConfig('orders', { PGPASSFILE: '/nonexistent/pgpass' })).toThrow(
        'PGPASSFILE: cannot read /nonexistent/pgpass (ENOENT)',
      );
    });
  });

  describe('the Kafka principal: SASL/SCRAM-SHA-256 with a password from the environment or a file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kafka-')), 'credentials');
    writeFileSync(file, 'admin:a:b\norder-service:secret\n');
    chmodSync(file, 0o600);

    it('is none without a username, and the file line of the username otherwise', () => {
      expect(kafkaConfig('x', { KAFKA_PASSFILE: file }).sasl).toBeUndefined();
      expect(
        kafkaConfig('x', { KAFKA_PASSFILE: file, KAFKA_SASL_USERNAME: 'order-service' }).sasl,
      ).toEqual({ mechanism: 'scram-sha-256', username: 'order-service', password: 'secret' });
      expect(
        kafkaConfig('x', { KAFKA_PASSFILE: file, KAFKA_SASL_USERNAME: 'admin' }).sasl?.password,
      ).toBe('a:b');
      expect(
        kafkaConfig('x', { KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' }).sasl?.password,
      ).toBe('p');
    });

    it('refuses a username without a password, naming where it looked', () => {
      expect(() =>
        kafkaConfig('x', { KAFKA_PASSFILE: file, KAFKA_SASL_USERNAME: 'payment-service' }),
      ).toThrow(/KAFKA_SASL_USERNAME: no password for payment-service/);
      chmodSync(file, 0o640);
      expect(() =>
        kafkaConfig('x', { KAFKA_PASSFILE: file, KAFKA_SASL_USERNAME: 'order-service' }),
      ).toThrow(/KAFKA_PASSFILE: .* may be read by group or others \(mode 640\)/);
      chmodSync(file, 0o600);
    });
  });

  describe('the master keys of personal data: from the environment or a private file', () => {
    const one = randomBytes(32).toString('base64');
    const two = randomBytes(32).toString('base64');
    const file = join(mkdtempSync(join(tmpdir(), 'privacy-')), 'master-keys');
    writeFileSync(file, `# the current key first\n${two}\n\n${one}\n`);
    chmodSync(file, 0o600);

    it('reads them in order, the current one first', () => {
      expect(privacyConfig({ PRIVACY_MASTER_KEYS: `${one},${two}` }).masterKeys).toEqual([
        Buffer.from(one, 'base64'),
        Buffer.from(two, 'base64'),
      ]);
      expect(privacyConfig({ PRIVACY_MASTER_KEYS_FILE: file }).masterKeys).toEqual([
        Buffer.from(two, 'base64'),
        Buffer.from(one, 'base64'),
      ]);
    });

    it('refuses to start without one, with one of another size, or from a file others may read', () => {
      expect(() => privacyConfig({})).toThrow(/PRIVACY_MASTER_KEYS: no master key/);
      expect(() =>
        privacyConfig({ PRIVACY_MASTER_KEYS: `${one},${randomBytes(16).toString('base64')}` }),
      ).toThrow(/PRIVACY_MASTER_KEYS: master key 2 is not 32 bytes of base64/);
      expect(() => privacyConfig({ PRIVACY_MASTER_KEYS: 'not base64!' })).toThrow(/master key 1/);
      chmodSync(file, 0o644);
      expect(() => privacyConfig({ PRIVACY_MASTER_KEYS_FILE: file })).toThrow(
        /PRIVACY_MASTER_KEYS_FILE: .* may be read by group or others \(mode 644\)/,
      );
      chmodSync(file, 0o600);
    });
  });
});
