// The inbox: what a consumer has handled, kept where its effects are (the service's event
// store), so that a message's mark is durable exactly when its effect is, and the parking of
// what it cannot handle (dead-letters.ts). The consumer sees them through this port; the event
// store implements it (@es/event-store, postgres-inbox.ts).
import type { PermanentFailure } from '../consumer/failure';
import type { DeadLetterParking } from '../dead-letters/dead-letters';

export interface InboxRef {
  readonly consumer: string;
  readonly messageId: string;
}

export interface InboxStore extends DeadLetterParking {
  /** The recorded result if this consumer handled this message. */
  handled(consumer: string, messageId: string): Promise<{ result: unknown } | undefined>;
}

/** The message or request was handled before by this consumer; `result` is what it returned then. */
export class AlreadyHandledError extends Error {
  constructor(
    readonly consumer: string,
    readonly messageId: string,
    readonly result: unknown,
  ) {
    super(`${consumer} already handled ${messageId}`);
    this.name = 'AlreadyHandledError';
  }
}

/** A message that can never be handled (malformed, of an unknown type): dead-lettered at once. */
export class PoisonMessage extends Error implements PermanentFailure {
  override name = 'PoisonMessage';
  readonly permanent = true;
}
