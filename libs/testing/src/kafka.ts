import { Kafka, logLevel, type Admin } from 'kafkajs';

/** kafkajs' log levels, for kafkaFor's second argument where kafkajs itself does not resolve. */
export { logLevel as kafkaLogLevel };
import { kafkaConfig, type KafkaConfig } from '@es/runtime-config';
import { kafkaPassfile, loadStackEnv } from './stack';

/** A client as the stack's tools' principal (es-tools, which may do anything). */
export function testKafka(clientId = 'test'): Kafka {
  loadStackEnv();
  return kafkaFor(kafkaConfig(clientId));
}

/** A client as `principal` (a service's, say), its password from the stack's credentials. */
export function kafkaAs(principal: string, clientId = principal): Kafka {
  loadStackEnv();
  return kafkaFor(
    kafkaConfig(clientId, {
      ...process.env,
      KAFKA_SASL_USERNAME: principal,
      KAFKA_SASL_PASSWORD: '',
    }),
  );
}

/**
 * A client as the tools' principal of a cluster started in its own stack directory (the fault
 * harness's, the cluster test's), whose nodes were formatted with that directory's credentials.
 */
export function clusterKafka(
  clientId: string,
  cluster: { readonly stackDir: string; readonly brokers: readonly string[] },
): Kafka {
  return kafkaFor(
    kafkaConfig(clientId, {
      KAFKA_BROKERS: cluster.brokers.join(','),
      KAFKA_SASL_USERNAME: 'es-tools',
      KAFKA_PASSFILE: kafkaPassfile(cluster.stackDir),
    }),
    logLevel.NOTHING,
  );
}

/**
 * The environment of a child process that builds its own kafkajs client from KAFKA_* variables
 * (the crash children of the tests): the principal and its password, resolved here, as the
 * JSON of kafkajs' `sasl` option (KAFKA_SASL).
 */
export function childKafkaEnv(): Record<string, string> {
  loadStackEnv();
  const { sasl } = kafkaConfig('child');
  return sasl ? { KAFKA_SASL: JSON.stringify(sasl) } : {};
}

/** kafkajs options from a config: its brokers and principal. */
export function kafkaFor(config: KafkaConfig, logging = logLevel.ERROR): Kafka {
  return new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ...(config.sasl ? { sasl: { ...config.sasl } } : {}),
    logLevel: logging,
  });
}

/** Creates a topic and waits until every partition has a leader. */
export async function createTopic(
  admin: Admin,
  topic: string,
  numPartitions: number,
): Promise<void> {
  const created = await admin.createTopics({
    topics: [{ topic, numPartitions, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  if (!created) throw new Error(`topic ${topic} already exists`);
}

export interface CollectedMessage {
  readonly key: string | null;
  readonly partition: number;
  readonly offset: string;
  readonly headers: Record<string, string>;
  readonly value: string;
}

/**
 * Reads a topic from the beginning with a fresh consumer group until `until` says enough (or
 * the time is up, which throws with what was read). Returns the messages in partition order.
 */
export async function collect(
  kafka: Kafka,
  topic: string,
  until: (messages: readonly CollectedMessage[]) => boolean,
  timeoutMs = 30_000,
): Promise<CollectedMessage[]> {
  const messages: CollectedMessage[] = [];
  const consumer = kafka.consumer({
    groupId: `collect-${topic}-${Date.now()}-${Math.random()}`,
    maxWaitTimeInMs: 100,
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      eachMessage: ({ partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {}))
          if (v !== undefined) headers[k] = String(v);
        messages.push({
          key: message.key?.toString() ?? null,
          partition,
          offset: message.offset,
          headers,
          value: message.value?.toString() ?? '',
        });
        if (until(messages)) done();
        return Promise.resolve();
      },
    });
    if (until(messages)) done();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          reject(
            new Error(
              `collect(${topic}): condition not met within ${timeoutMs} ms; got ${messages.length} messages`,
            ),
          );
        }, timeoutMs);
      }),
    ]).finally(() => {
      clearTimeout(timer);
    });
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

/** Messages grouped by key, in the order each key's messages were read. */
export function byKey(messages: readonly CollectedMessage[]): Map<string, CollectedMessage[]> {
  const groups = new Map<string, CollectedMessage[]>();
  for (const m of messages) {
    const key = m.key ?? '';
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  return groups;
}
