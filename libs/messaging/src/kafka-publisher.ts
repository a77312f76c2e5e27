// The outbox relay's port to Kafka: an idempotent producer (acks = all, one request in flight,
// so the broker keeps each partition's order and drops retried duplicates), keyed by aggregate
// id with the Java client's murmur2 partitioner, so one aggregate stays in one partition.
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { MessagePublisher, OutboundMessage } from '@es/event-store';

export class KafkaPublisher implements MessagePublisher {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async publish(batch: readonly OutboundMessage[]): Promise<void> {
    if (batch.length === 0) return;
    this.connected ??= this.producer.connect().catch((error: unknown) => {
      this.connected = undefined;
      throw error;
    });
    await this.connected;
    const byTopic = new Map<string, Message[]>();
    for (const m of batch) {
      const messages = byTopic.get(m.topic) ?? [];
      messages.push({
        key: m.key,
        value: JSON.stringify(m.payload),
        headers: { ...m.headers, 'message-id': m.messageId },
      });
      byTopic.set(m.topic, messages);
    }
    await this.producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = undefined;
  }
}
