// The inbox: what a consumer has handled, kept where its effects are (the service's event
// store), so that a message's mark is durable exactly when its effect is. The consumer sees it
// through this port; the event store implements it (@es/event-store, postgres-inbox.ts).
import type { PermanentFailure } from '../consumer/failure';
import type { EventMetadata } from '../envelope/envelope';

export interface InboxRef {
  readonly consumer: string;
  readonly messageId: string;
}

/** A dead letter to publish, atomically with the mark that its message was handled. */
export interface DeadLetter {
  readonly topic: string;
  readonly key: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: unknown;
  readonly reason: string;
  readonly metadata: EventMetadata;
}

export interface InboxStore {
  /** The recorded result if this consumer handled this message. */
  handled(consumer: string, messageId: string): Promise<{ result: unknown } | undefined>;
  /**
   * Marks the message handled and writes its dead letter to the outbox, in one write. A
   * message handled meanwhile (AlreadyHandledError) is left as it was.
   */
  deadLetter(inbox: InboxRef, letter: DeadLetter): Promise<void>;
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

/** A message that can never be handled (not JSON, not of its contract): dead-lettered at once. */
/** A message that can never be handled (malformed, of an unknown type): dead-lettered at once. */
export class PoisonMessage extends Error implements PermanentFailure {
  override name = 'PoisonMessage';
  readonly permanent = true;
}
