// The operator's redrive of parked letters (dead-letters.ts): each sequence from its first
// parked letter, in order, through the consumer's own handler with the letter's inbox ref, so
// a letter whose effect was written already (a redrive that died before marking it) is a
// duplicate, not a second effect. Upcasters are applied first (the store keeps the message as
// it arrived). A letter that fails again stays parked, with its error and attempts, and its
// sequence stops there: the letters behind it keep waiting. One redrive of a sequence at a time
// (the store's claim); a dry run says what would be done, and does nothing.
import { logContext } from '@es/observability';
import type { ConsumedMessage } from '../consumer/consumed-message';
import { AlreadyHandledError, PoisonMessage, type InboxStore } from '../inbox/inbox';
import type { MessageHandler } from '../inbox/inbox-consumer';
import { consuming, messagingAttributes } from '../tracing';
import type { DeadLetterRecord, DeadLetterStore, Sequence } from './dead-letters';

/** What a consumer's letters are redriven through. */
export interface RedriveTarget {
  readonly handler: MessageHandler;
  /** Brings an older message up to what the handler reads now (the event registry's upcasters). */
  readonly upcast?: (message: ConsumedMessage) => ConsumedMessage;
}

export type RedriveOutcome =
  /** Handled now. */
  | 'handled'
  /** Its effect was written before: marked redriven, nothing written. */
  | 'duplicate'
  /** It failed again: still parked, its sequence stops here. */
  | 'failed'
  /** Dry run: it would be handled (or, with `alreadyHandled`, found a duplicate). */
  | 'would-redrive'
  /** Dry run: it cannot be made a message to handle (not JSON, an upcaster threw). */
  | 'would-fail';

export interface RedrivenLetter {
  readonly id: string;
  readonly consumer: string;
  readonly topic: string;
  readonly key: string;
  readonly messageId: string;
  readonly outcome: RedriveOutcome;
  /** The event type and schema version as parked, and after upcasting (when an event). */
  readonly eventType: string | null;
  readonly schemaVersion: number | null;
  readonly upcastTo: number | null;
  /** Dry run: the inbox says it was handled already. */
  readonly alreadyHandled: boolean;
  readonly error: string | null;
}

export interface RedriveReport {
  readonly dryRun: boolean;
  readonly letters: readonly RedrivenLetter[];
  readonly handled: number;
  readonly duplicates: number;
  readonly failed: number;
  /** Sequences another redrive holds now: not touched. */
  readonly busy: readonly Sequence[];
  /** Letters still parked in the sequences asked for (behind a failure, or past the limit). */
  readonly stillParked: number;
}

export interface RedriveRequest {
  readonly consumer: string;
  readonly topic?: string;
  readonly key?: string;
  readonly dryRun: boolean;
  /** At most this many letters in one redrive. */
  readonly limit: number;
  /** Who asks (recorded on what is resolved). */
  readonly by: string | null;
}

/** A redrive of one letter that is not its sequence's first parked one. */
export class NotSequenceHeadError extends Error {
  override name = 'NotSequenceHeadError';
  constructor(
    readonly id: string,
    readonly head: string,
  ) {
    super(
      `dead letter ${id} waits behind ${head}, the first parked of its key: redrive that first`,
    );
  }
}

/** The letter is not parked (redriven or discarded already). */
export class NotParkedError extends Error {
  override name = 'NotParkedError';
  constructor(
    readonly id: string,
    readonly status: string,
  ) {
    super(`dead letter ${id} is ${status}, not parked`);
  }
}

/** No redrive target for the consumer: not one of this service's. */
export class UnknownConsumerError extends Error {
  override name = 'UnknownConsumerError';
  constructor(readonly consumer: string) {
    super(`no consumer ${consumer} in this service`);
  }
}

/** A redrive of a sequence held by another redrive right now. */
export class SequenceBusyError extends Error {
  override name = 'SequenceBusyError';
  constructor(readonly sequence: Sequence) {
    super(`another redrive of ${sequence.topic}/${sequence.key} is running`);
  }
}

const reasonOf = (error: unknown) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/** The letter as its consumer read it. */
export function consumedMessageOf(letter: DeadLetterRecord): ConsumedMessage {
  return {
    topic: letter.topic,
    partition: letter.partition,
    offset: letter.offset,
    key: letter.key === '' ? null : letter.key,
    messageId: letter.messageId,
    headers: letter.headers,
    payload: letter.payload,
  };
}

/** An event envelope's type and schema version, if the payload is one. */
function eventShape(payload: unknown): { type: string; schemaVersion: number } | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const { type, schemaVersion } = payload as { type?: unknown; schemaVersion?: unknown };
  return typeof type === 'string' && typeof schemaVersion === 'number'
    ? { type, schemaVersion }
    : undefined;
}

export class DeadLetterRedriver {
  constructor(
    private readonly store: DeadLetterStore,
    private readonly inbox: Pick<InboxStore, 'handled'>,
    private readonly targets: (consumer: string) => RedriveTarget | undefined,
  ) {}

  /** One letter, which must be the first parked of its sequence. */
  async redriveOne(
    id: string,
    options: { dryRun: boolean; by: string | null },
  ): Promise<RedriveReport | undefined> {
    const letter = await this.store.get(id);
    if (!letter) return undefined;
    if (letter.status !== 'parked') throw new NotParkedError(id, letter.status);
    const target = this.target(letter.consumer);
    const sequence = { consumer: letter.consumer, topic: letter.topic, key: letter.key };
    const head = await this.store.head(sequence);
    if (head && head.id !== id) throw new NotSequenceHeadError(id, head.id);
    const report = this.newReport(options.dryRun);
    const done = await this.sequence(sequence, target, { ...options, limit: 1, only: id }, report);
    if (!done) throw new SequenceBusyError(sequence);
    return this.finish(report, sequence);
  }

  /** A consumer's parked sequences (of a topic, of a key), each in order, up to `limit` letters. */
  async redrive(request: RedriveRequest): Promise<RedriveReport> {
    const target = this.target(request.consumer);
    const sequences = (await this.store.parkedSequences(request.consumer)).filter(
      (s) =>
        (request.topic === undefined || s.topic === request.topic) &&
        (request.key === undefined || s.key === request.key),
    );
    const report = this.newReport(request.dryRun);
    for (const sequence of sequences) {
      const left = request.limit - report.letters.length;
      if (left <= 0) break;
      const done = await this.sequence(sequence, target, { ...request, limit: left }, report);
      if (!done) report.busy.push(sequence);
    }
    return this.finish(report, request);
  }

  private target(consumer: string): RedriveTarget {
    const target = this.targets(consumer);
    if (!target) throw new UnknownConsumerError(consumer);
    return target;
  }

  private newReport(dryRun: boolean) {
    return { dryRun, letters: [] as RedrivenLetter[], busy: [] as Sequence[] };
  }

  private async finish(
    report: ReturnType<DeadLetterRedriver['newReport']>,
    scope: { consumer: string; topic?: string; key?: string },
  ): Promise<RedriveReport> {
    const stillParked = await this.store.parkedCount(scope);
    const count = (outcome: RedriveOutcome) =>
      report.letters.filter((l) => l.outcome === outcome).length;
    return {
      ...report,
      handled: count('handled'),
      duplicates: count('duplicate'),
      failed: count('failed'),
      stillParked,
    };
  }

  /** One sequence under its claim: false if another redrive holds it. */
  private async sequence(
    sequence: Sequence,
    target: RedriveTarget,
    options: { dryRun: boolean; limit: number; by: string | null; only?: string },
    report: ReturnType<DeadLetterRedriver['newReport']>,
  ): Promise<boolean> {
    const release = await this.store.claim(sequence);
    if (!release) return false;
    try {
      if (options.dryRun) {
        for (const letter of await this.store.parkedOf(sequence, options.limit)) {
          if (options.only !== undefined && letter.id !== options.only) break;
          report.letters.push(await this.preview(letter, target));
        }
        return true;
      }
      for (let n = 0; n < options.limit; n++) {
        const letter = await this.store.head(sequence);
        if (!letter || (options.only !== undefined && letter.id !== options.only)) break;
        const done = await this.redriveLetter(letter, target, options.by);
        report.letters.push(done);
        if (done.outcome === 'failed') break;
      }
      return true;
    } finally {
      await release();
    }
  }

  private async preview(letter: DeadLetterRecord, target: RedriveTarget): Promise<RedrivenLetter> {
    const inbox = await this.inbox.handled(letter.consumer, letter.messageId);
    try {
      const message = this.prepare(letter, target);
      return this.described(letter, message, 'would-redrive', null, inbox !== undefined);
    } catch (error) {
      return this.described(letter, undefined, 'would-fail', reasonOf(error), false);
    }
  }

  private prepare(letter: DeadLetterRecord, target: RedriveTarget): ConsumedMessage {
    if (letter.raw) throw new PoisonMessage('payload is not JSON');
    const message = consumedMessageOf(letter);
    return target.upcast ? target.upcast(message) : message;
  }

  private described(
    letter: DeadLetterRecord,
    message: ConsumedMessage | undefined,
    outcome: RedriveOutcome,
    error: string | null,
    alreadyHandled: boolean,
  ): RedrivenLetter {
    const parked = eventShape(letter.payload);
    const now = message && eventShape(message.payload);
    return {
      id: letter.id,
      consumer: letter.consumer,
      topic: letter.topic,
      key: letter.key,
      messageId: letter.messageId,
      outcome,
      eventType: parked?.type ?? null,
      schemaVersion: parked?.schemaVersion ?? null,
      upcastTo:
        now && parked && now.schemaVersion !== parked.schemaVersion ? now.schemaVersion : null,
      alreadyHandled,
      error,
    };
  }

  private async redriveLetter(
    letter: DeadLetterRecord,
    target: RedriveTarget,
    by: string | null,
  ): Promise<RedrivenLetter> {
    let message: ConsumedMessage | undefined;
    try {
      message = this.prepare(letter, target);
      // Its effect written by an earlier redrive that died before marking it: the handler would
      // replay it and write nothing; said so.
      if (await this.inbox.handled(letter.consumer, letter.messageId)) {
        await this.store.redriven(letter.id, 'duplicate', by);
        return this.described(letter, message, 'duplicate', null, true);
      }
      const handling = message;
      await consuming(
        `${letter.topic} redrive`,
        handling.headers,
        messagingAttributes(letter.topic, 'process', {
          'messaging.consumer.group.name': letter.consumer,
          'messaging.message.id': letter.messageId,
          'messaging.kafka.message.key': letter.key,
        }),
        () =>
          logContext.run(
            {
              correlationId: handling.headers['correlation-id'] ?? handling.messageId,
              causationId: handling.messageId,
            },
            () =>
              target.handler(handling, { consumer: letter.consumer, messageId: letter.messageId }),
          ),
      );
      await this.store.redriven(letter.id, 'handled', by);
      return this.described(letter, message, 'handled', null, false);
    } catch (error) {
      if (error instanceof AlreadyHandledError) {
        await this.store.redriven(letter.id, 'duplicate', by);
        return this.described(letter, message, 'duplicate', null, true);
      }
      const reason = reasonOf(error);
      await this.store.failedAgain(letter.id, reason);
      return this.described(letter, message, 'failed', reason, false);
    }
  }
}
