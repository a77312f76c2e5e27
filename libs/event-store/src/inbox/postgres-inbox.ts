// The inbox consumer's store (@es/messaging's InboxStore) in the service's event store: the
// inbox table holds what each consumer handled, with its first result, and a dead letter is an
// outbox row written in the same statement as the mark that its message was handled.
import { AlreadyHandledError, type InboxStore } from '@es/messaging';
import type { PostgresEventStore } from '../store/event-store';
import { uuidv7 } from '../store/uuid';

export function postgresInbox(store: PostgresEventStore): InboxStore {
  return {
    handled: (consumer, messageId) => store.handled(consumer, messageId),
    deadLetter: async (inbox, letter) => {
      try {
        await store.append({ type: '$dead-letter', id: inbox.messageId }, [], {
          expectedVersion: 'any',
          metadata: letter.metadata,
          outbox: [
            {
              topic: letter.topic,
              key: letter.key,
              messageId: uuidv7(),
              headers: { ...letter.headers },
              payload: letter.payload,
            },
          ],
          inbox: { ...inbox, result: { deadLettered: true, error: letter.reason } },
        });
      } catch (error) {
        if (error instanceof AlreadyHandledError) return; // handled meanwhile: its answer stands
        throw error;
      }
    },
  };
}
