// The sequenced dead-letter store, as the consumers and the operator's tools see it (the event
// store implements it in the service's own database: @es/event-store, postgres-dead-letters.ts).
//
// A message that can never be handled as it is (consumer/failure.ts) is parked: it leaves the
// flow of its partition, and every later message of its key (one aggregate, one saga) is parked
// behind it, so that when an operator redrives the key (redrive.ts) its messages are handled in
// their order, as Axon's sequenced dead-letter queue keeps them. The other keys go on. A
// sequence is (consumer, topic, key); its letters are redriven from the first still parked, or
// discarded with a reason. A parked message is not marked in the inbox: redriven, its handler
// writes the mark with its effect (once, however often it is redriven); discarded, the discard
// writes one. Either way a redelivery of it (a crash before its offset was committed) has no
// effect.
import type { EventMetadata } from '../envelope/envelope';

/** Why a letter is parked: its own failure, or a failed letter of its key ahead of it. */
export type ParkCause = 'failed' | 'behind';

export type DeadLetterStatus = 'parked' | 'redriven' | 'discarded';

/** A message to park, as its consumer read it. */
export interface NewDeadLetter {
  readonly consumer: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** The message's key; '' for a message without one (they keep their order together). */
  readonly key: string;
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
  /** The payload as JSON, or its text when it was not JSON (`raw`). */
  readonly payload: unknown;
  readonly raw: boolean;
  readonly cause: ParkCause;
  /** Why it failed (`failed`); null for a letter parked behind another. */
  readonly error: string | null;
  readonly attempts: number;
  /** For the dead-letter topic's notice: who caused it (the message's correlation goes on). */
  readonly metadata: EventMetadata;
  /** Where its notice goes (`<topic>.dlq`), for a failed letter. */
  readonly noticeTopic: string;
  /** The notice's headers (dead-letter.ts): the message's, with why and where from. */
  readonly noticeHeaders: Readonly<Record<string, string>>;
}

/** A parked (or resolved) letter, as the store keeps it. */
export interface DeadLetterRecord {
  /** Its place in the store: decimal, increasing, so a sequence is in id order. */
  readonly id: string;
  readonly consumer: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string;
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: unknown;
  readonly raw: boolean;
  readonly cause: ParkCause;
  readonly error: string | null;
  readonly attempts: number;
  readonly status: DeadLetterStatus;
  readonly parkedAt: Date;
  readonly resolvedAt: Date | null;
  /** A discard's reason, or what the redrive found: handled, duplicate. */
  readonly resolution: string | null;
  readonly resolvedBy: string | null;
}

/** What park() did. */
export type ParkOutcome =
  /** Parked now. */
  | 'parked'
  /** This consumer parked this message before (a redelivery): nothing written. */
  | 'already-parked'
  /** Behind-only, and its key has no parked letter (any more): handle it. */
  | 'not-parked';

/** One sequence: a consumer's key of a topic. */
export interface Sequence {
  readonly consumer: string;
  readonly topic: string;
  readonly key: string;
}

export interface DeadLetterFilter {
  readonly consumer?: string;
  readonly topic?: string;
  readonly key?: string;
  readonly status?: DeadLetterStatus;
  /** Letters after this id (paging). */
  readonly after?: string;
  readonly limit: number;
}

/** What a consumer needs of the store: park, and which keys have letters parked. */
export interface DeadLetterParking {
  /**
   * Parks the message with its notice on the dead-letter topic (a failed one), in one
   * transaction, serialized with the resolving of its sequence's letters. `behindOnly`: only if
   * its key has parked letters still (a message that arrived behind one).
   */
  park(letter: NewDeadLetter, behindOnly: boolean): Promise<ParkOutcome>;
  /** The sequences of a consumer with letters parked. */
  parkedSequences(consumer: string): Promise<readonly Sequence[]>;
}

/** The whole store: the consumers' parking, and the operator's look and resolve. */
export interface DeadLetterStore extends DeadLetterParking {
  list(filter: DeadLetterFilter): Promise<readonly DeadLetterRecord[]>;
  get(id: string): Promise<DeadLetterRecord | undefined>;
  /** The first parked letter of a sequence. */
  head(sequence: Sequence): Promise<DeadLetterRecord | undefined>;
  /** The parked letters of a sequence in order, at most `limit`. */
  parkedOf(sequence: Sequence, limit: number): Promise<readonly DeadLetterRecord[]>;
  /** How many letters are parked for a consumer (of a topic, of a key). */
  parkedCount(scope: { consumer: string; topic?: string; key?: string }): Promise<number>;
  /** Counts of parked letters, by consumer and cause (a metric). */
  parkedCounts(): Promise<readonly { consumer: string; cause: ParkCause; count: number }[]>;
  /**
   * Holds the sequence for one redrive at a time (across the service's instances): the release,
   * or undefined when another holds it.
   */
  claim(sequence: Sequence): Promise<(() => Promise<void>) | undefined>;
  /** A redriven letter: handled now (or before: a duplicate). False if it was not parked. */
  redriven(id: string, resolution: 'handled' | 'duplicate', by: string | null): Promise<boolean>;
  /** A redrive of the letter failed again: its error and attempts recorded, still parked. */
  failedAgain(id: string, error: string): Promise<void>;
  /** Discards a parked letter, writing its inbox mark. False if it was not parked. */
  discard(id: string, reason: string, by: string | null): Promise<boolean>;
}

/** A sequence as one string, for sets and maps. */
export const sequenceKey = (topic: string, key: string): string => `${topic}\u0000${key}`;
