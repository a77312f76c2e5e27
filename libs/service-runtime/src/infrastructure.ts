// Connections to the engines, created once per process and closed on shutdown. Services inject
// them by token; the libraries that persist or publish (event store, messaging) take them as
// constructor arguments and never open connections of their own.
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { Pool } from 'pg';
import { createLogger } from '@es/observability';
import {
  kafkaConfig,
  mongoConfig,
  postgresConfig,
  postgresQueryTimeoutMs,
} from '@es/runtime-config';

export const PG_POOL = Symbol('PG_POOL');
export const KAFKA = Symbol('KAFKA');
export const MONGO_CLIENT = Symbol('MONGO_CLIENT');

export function createPostgresPool(
  database: string,
  applicationName: string,
  {
    max = 20,
    host,
    port,
  }: { readonly max?: number; readonly host?: string; readonly port?: number } = {},
): Pool {
  const config = {
    ...postgresConfig(database),
    ...(host ? { host } : {}),
    ...(port ? { port } : {}),
  };
  const pool = new Pool({
    ...config,
    application_name: applicationName,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A connection that went silent (a peer gone without a FIN) is found by TCP keep-alive and
    // given up by the query timeout: with group commit it holds one of the two slots every
    // append of the process shares (group-commit.ts), so it must not hang for ever. The
    // client closes it; the group's appends fail, their outcome unknown, as on a lost
    // connection.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    query_timeout: postgresQueryTimeoutMs(),
  });
  // An idle client's error (the server restarted) must not crash the process; the pool
  // discards that client and the next query gets a fresh one.
  pool.on('error', (error) => {
    process.emitWarning(`postgres idle client error: ${error.message}`);
  });
  return pool;
}

const kafkaLevels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(clientId: string): Kafka {
  const config = kafkaConfig(clientId);
  const logger = createLogger(clientId).child({ context: 'kafkajs' });
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ...(config.sasl ? { sasl: { ...config.sasl } } : {}),
    connectionTimeout: 3_000,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        // Its own timestamp and logger name are replaced by the line's time and context.
        const extra: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(log))
          if (!['message', 'timestamp', 'logger'].includes(key)) extra[key] = value;
        logger[kafkaLevels[level] ?? 'info'](extra, log.message);
      },
  });
}

export function createMongoClient(appName: string): MongoClient {
  return new MongoClient(mongoConfig().url, {
    appName,
    serverSelectionTimeoutMS: 5_000,
    // No socketTimeoutMS: a projection's bulk write on a busy FerretDB can take longer than any
    // bound that would be safe for a stall, and failing it only makes it run again. Reads are
    // bounded where a request waits for them (MONGO_OPERATION_TIMEOUT_MS, ReadModels); a fault
    // run at 16 orders/s with a 30 s socket timeout saw GET /projections fail on it for minutes.
  });
}
