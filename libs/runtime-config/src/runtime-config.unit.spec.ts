import {
  ConfigError,
  httpConfig,
  kafkaConfig,
  mongoConfig,
  orderVerdictConfig,
  postgresConfig,
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
});
