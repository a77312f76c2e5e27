// The inbox consumer's store (@es/messaging's InboxStore) in the service's event store: the
// inbox table holds what each consumer handled, with its first result (written by the
// handler's own append, with its effect), and what a consumer cannot handle is parked in the
// sequenced dead-letter store beside it (postgres-dead-letters.ts).
import type { DeadLetterStore, InboxStore } from '@es/messaging';
import type { PostgresEventStore } from '../store/event-store';
import { postgresDeadLetters } from './postgres-dead-letters';

export function postgresInbox(
  store: PostgresEventStore,
  deadLetters: DeadLetterStore = postgresDeadLetters(store.pool),
): InboxStore {
  return {
    handled: (consumer, messageId) => store.handled(consumer, messageId),
    park: (letter, behindOnly) => deadLetters.park(letter, behindOnly),
    parkedSequences: (consumer) => deadLetters.parkedSequences(consumer),
  };
}
