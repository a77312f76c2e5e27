// Connections to the engines, created once per process and closed on shutdown. Services inject
// them by token; the libraries that persist or publish (event store, messaging) take them as
// constructor arguments and never open connections of their own.
import { Kafka, logLevel, type LogEntry } from 'kafkajs';
import { MongoClient } from 'mongodb';
import { Pool } from 'pg';
import { kafkaConfig, mongoConfig, postgresConfig } from '@es/runtime-config';

export const PG_POOL = Symbol('PG_POOL');
export const KAFKA = Symbol('KAFKA');
export const MONGO_CLIENT = Symbol('MONGO_CLIENT');

export function createPostgresPool(database: string, applicationName: string): Pool {
  const config = postgresConfig(database);
  const pool = new Pool({
    ...config,
    application_name: applicationName,
    max: 20,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client's error (the server restarted) must not crash the process; the pool
  // discards that client and the next query gets a fresh one.
  pool.on('error', (error) => {
    process.emitWarning(`postgres idle client error: ${error.message}`);
  });
  return pool;
}

const kafkaLevels: Record<number, string> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(clientId: string): Kafka {
  const config = kafkaConfig(clientId);
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    connectionTimeout: 3_000,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...extra } = log;
        process.stdout.write(
          `${JSON.stringify({ level: kafkaLevels[level] ?? 'info', context: 'kafkajs', message, ...extra })}\n`,
        );
      },
  });
}

export function createMongoClient(appName: string): MongoClient {
  return new MongoClient(mongoConfig().url, {
    appName,
    serverSelectionTimeoutMS: 5_000,
  });
}
