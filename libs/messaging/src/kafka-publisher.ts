// The outbox relay's port to Kafka: an idempotent producer (acks = all, one request in flight,
// so the broker keeps each partition's order and drops retried duplicates), keyed by aggregate
// id with the Java client's murmur2 partitioner, so one aggregate stays in one partition.
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { MessagePublisher, OutboundMessage } from './envelope/envelope';
import { contextOf, messagingAttributes, traceparentOf, tracer } from './tracing';

export class KafkaPublisher implements MessagePublisher {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Topics are created (and verified) by ensureTopics only, never on a first publish with
      // the broker's defaults (its retention would drop events).
      allowAutoTopicCreation: false,
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
    const spans: Span[] = [];
    for (const m of batch) {
      const messages = byTopic.get(m.topic) ?? [];
      // A PRODUCER span per message, in the trace its event was written in (tracing.ts); the
      // consumer continues from this span.
      const span = tracer.startSpan(
        `${m.topic} publish`,
        {
          kind: SpanKind.PRODUCER,
          attributes: messagingAttributes(m.topic, 'publish', {
            'messaging.message.id': m.messageId,
            'messaging.kafka.message.key': m.key,
          }),
        },
        contextOf(m.headers),
      );
      spans.push(span);
      const traceparent = traceparentOf(span);
      messages.push({
        key: m.key,
        value: JSON.stringify(m.payload),
        headers: {
          ...m.headers,
          'message-id': m.messageId,
          ...(traceparent ? { traceparent } : {}),
        },
      });
      byTopic.set(m.topic, messages);
    }
    try {
      await this.producer.sendBatch({
        acks: -1,
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      });
    } catch (error) {
      for (const span of spans)
        span.setStatus({
          code: SpanStatusCode.ERROR,
          message: error instanceof Error ? error.message : String(error),
        });
      throw error;
    } finally {
      for (const span of spans) span.end();
    }
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = undefined;
  }
}
