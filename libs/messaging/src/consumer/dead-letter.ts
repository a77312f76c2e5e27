// The dead-letter envelope, one for every consumer: a message that can never be handled goes to
// `<topic>.dlq` with its key, payload and headers as they were, plus why, by whom, after how
// many attempts, and where it came from (topic, partition, offset, message id).
import type { ConsumedMessage } from './consumed-message';

export function deadLetterHeaders(
  message: Pick<ConsumedMessage, 'topic' | 'partition' | 'offset' | 'headers' | 'messageId'>,
  consumer: string,
  reason: string,
  attempts: number,
): Record<string, string> {
  return {
    ...message.headers,
    'dlq-error': reason.slice(0, 2_000),
    'dlq-consumer': consumer,
    'dlq-attempts': String(attempts),
    'dlq-original-topic': message.topic,
    'dlq-original-partition': String(message.partition),
    'dlq-original-offset': message.offset,
    'dlq-original-message-id': message.messageId,
  };
}
