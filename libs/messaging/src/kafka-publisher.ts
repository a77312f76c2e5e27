// The outbox relay's port to Kafka: a producer with acks = all and one request in flight (so
// each partition keeps its order), keyed by aggregate id with the Java client's murmur2
// partitioner, so one aggregate stays in one partition.
//
// kafkajs' own retries are off (and with them its idempotence, which it refuses without them).
// Its sendBatch sends one request per leader broker and, when one
// fails, retries only to brokers that have not answered yet, after a metadata refresh: a
// partition whose leader died and moved to a broker that had already answered is never sent,
// and the batch resolves as if it had been (kafkajs 2.2.4, producer/sendMessages.js). Seen as
// acknowledged messages missing from the log when a partition leader was SIGKILLed under writes
// (cluster.int.spec.ts: 2-6 of a batch of 12, in 2 runs of 3). A failed batch is sent again
// whole here instead: the partitions that had taken it get it twice, which every consumer
// dedupes (message ids: the relay is at-least-once anyway), and none is skipped.
import { SpanKind, SpanStatusCode, type Span } from '@opentelemetry/api';
import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { MessagePublisher, OutboundMessage } from './envelope/envelope';
import { contextOf, messagingAttributes, traceparentOf, tracer } from './tracing';

/** Sendings of one batch before publish() fails (the relay tries it again later). */
const PUBLISH_ATTEMPTS = 6;

/** A producer for sendWhole: acks = all, one request in flight, no retries of its own. */
export function wholeBatchProducer(kafka: Kafka): Producer {
  return kafka.producer({
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
    // Topics are created (and verified) by ensureTopics only, never on a first publish with
    // the broker's defaults (its retention would drop events).
    allowAutoTopicCreation: false,
    retry: { retries: 0 },
  });
}

/** The batch, sent again whole after a failure (a few times, then the caller's to retry). */
export async function sendWhole(
  producer: Producer,
  topicMessages: { topic: string; messages: Message[] }[],
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await producer.sendBatch({ acks: -1, topicMessages });
      return;
    } catch (error) {
      if (attempt >= PUBLISH_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
}

export class KafkaPublisher implements MessagePublisher {
  private readonly producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(kafka: Kafka) {
    this.producer = wholeBatchProducer(kafka);
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
      await sendWhole(
        this.producer,
        [...byTopic].map(([topic, messages]) => ({ topic, messages })),
      );
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
