import { Kafka, logLevel, type Admin } from 'kafkajs';
import { kafkaConfig } from '@es/runtime-config';
import { loadStackEnv } from './stack';

export function testKafka(clientId = 'test'): Kafka {
  loadStackEnv();
  const config = kafkaConfig(clientId);
  return new Kafka({ clientId, brokers: [...config.brokers], logLevel: logLevel.ERROR });
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
