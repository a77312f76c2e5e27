// Consumes Kafka messages with exactly-once effects on an at-least-once feed: a policy over
// the consumer core (consumer-core.ts), which owns sessions, offsets and rebalances.
// - a message already in the consumer's inbox is skipped (a read, no write);
// - the handler's own append writes the inbox mark in the same statement as its events, so the
//   mark is durable exactly when the effect is, and nothing is written before the handler loads
//   its stream (see docs/event-store.md on transaction order);
// - a message is reported handled to the core (and so committed) only once its handling returned;
// - a fetched batch is handled key by key: one key's messages (one aggregate, one saga) in
//   order, different keys together, so that their appends share a group commit;
// - a failure is transient or permanent (consumer/failure.ts): a permanent one (poison, a
//   refusal) is parked at once in the sequenced dead-letter store (dead-letters.ts), with a
//   notice to <topic>.dlq through the outbox in the same transaction, and every later message of
//   its key is parked behind it until an operator redrives or discards them (other keys go on);
//   a transient one is tried again with capped back-off,
//   without limit, keeping the group session alive, while the later messages of its key wait
//   behind it (other keys and partitions go on): a few seconds of trouble never turn a good
//   message into a dead letter, and it is visible as lag, `consumer_stalled_messages` and the
//   log until it succeeds (or the consumer stops: then it is not handled, and is redelivered).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { Meter } from '@opentelemetry/api';
import { logContext } from '@es/observability';
import { ConsumerCore, type FetchedBatch } from '../consumer/consumer-core';
import { backoffMs, isPermanent } from '../consumer/failure';
import { decodeMessage, metadataOf, type ConsumedMessage } from '../consumer/consumed-message';
import { deadLetterHeaders } from '../consumer/dead-letter';
import { sequenceKey, type NewDeadLetter, type ParkCause } from '../dead-letters/dead-letters';
import { dlqTopic } from '../topics';
import { consuming, messagingAttributes } from '../tracing';
import { AlreadyHandledError, PoisonMessage, type InboxRef, type InboxStore } from './inbox';

/** Must write its effect through the event store with `inbox` (the command handler does). */
export type MessageHandler = (message: ConsumedMessage, inbox: InboxRef) => Promise<void>;

export interface InboxConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly handler: MessageHandler;
  /** The first wait before a message that failed transiently is tried again (100 ms). */
  readonly backoffMs?: number;
  /** The longest wait between tries of a message failing transiently (30 s). */
  readonly maxBackoffMs?: number;
  readonly fromBeginning?: boolean;
  /**
   * Look the message up in the inbox before calling the handler (default true). A handler whose
   * command handler checks the inbox itself, under its stream lock, can skip this round trip.
   */
  readonly checkInboxFirst?: boolean;
  /** Partitions handled at once (each still in order); 1 by default. */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * Messages of one partition's fetched batch handled at once (1 by default), each key's in
   * order: messages of one key (one aggregate, one saga) one after another, different keys
   * together, so that their appends share a group commit (the event store's `groupCommit`).
   */
  readonly keysConcurrently?: number;
  /** How often handled messages' offsets are committed (500 ms by default), and at stop. */
  readonly commitIntervalMs?: number;
  readonly meter?: Meter;
  readonly onError?: (error: unknown, message: ConsumedMessage, attempt: number) => void;
  /** A commit of handled offsets failed (it is retried at the next interval). */
  readonly onCommitError?: (error: unknown) => void;
}

/** A message being tried again after transient failures: what holds its key back. */
export interface StalledMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly messageId: string;
  readonly since: Date;
  readonly attempts: number;
  readonly error: string;
}

/** The retrying of a message stopped: the consumer is stopping or lost the partition. */
class RetryAbandoned extends Error {
  override name = 'RetryAbandoned';
}

export class InboxConsumer {
  private readonly core: ConsumerCore;
  private readonly processed;
  private readonly deadLettered;
  private readonly stalledNow = new Map<string, StalledMessage>();
  /**
   * The sequences (topic, key) with letters parked, as this member last read them: loaded
   * before its first batch after each assignment (another member may have parked on the
   * partitions it now holds), kept by its own parking. A message of a sequence in it is parked
   * behind, if the store still has letters parked there (a redrive may have emptied it).
   */
  private readonly parked = new Set<string>();
  private parkedLoaded: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly inbox: InboxStore,
    private readonly options: InboxConsumerOptions,
  ) {
    this.core = new ConsumerCore(
      kafka,
      {
        groupId: options.groupId,
        topics: options.topics,
        fromBeginning: options.fromBeginning,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
        commitIntervalMs: options.commitIntervalMs,
        onCommitError: options.onCommitError,
        onAssignment: () => {
          this.parkedLoaded = undefined;
        },
      },
      (batch) => this.handleBatch(batch),
    );
    this.processed = options.meter?.createCounter('consumer_messages_total', {
      description: 'Messages handled, by outcome',
    });
    this.deadLettered = options.meter?.createCounter('consumer_dead_letters_total', {
      description: 'Messages sent to a DLQ',
    });
    options.meter
      ?.createObservableGauge('consumer_stalled_messages', {
        description: 'Messages being tried again after transient failures, holding their key',
      })
      .addCallback((result) => {
        const byTopic = new Map<string, number>();
        for (const m of this.stalledNow.values())
          byTopic.set(m.topic, (byTopic.get(m.topic) ?? 0) + 1);
        for (const topic of this.options.topics)
          result.observe(byTopic.get(topic) ?? 0, { consumer: this.options.groupId, topic });
      });
  }

  /** The messages being tried again right now, oldest first. */
  stalled(): readonly StalledMessage[] {
    return [...this.stalledNow.values()].sort((a, b) => a.since.getTime() - b.since.getTime());
  }

  start(): Promise<void> {
    return this.core.start();
  }

  /** Stops fetching, lets the messages in hand finish (at most `graceMs`), commits, leaves. */
  stop(graceMs?: number): Promise<void> {
    return this.core.stop(graceMs);
  }

  /**
   * One partition's fetched messages: each key's in order, up to `keysConcurrently` keys at
   * once. After a failure no new message is started, and the error goes to kafkajs, which
   * fetches the partition again after what was handled (what was handled past it, the inbox
   * answers).
   */
  private async handleBatch(batch: FetchedBatch): Promise<void> {
    // The store away (PostgreSQL restarting): waited for like any transient failure, the group
    // session kept, rather than failing the batch into kafkajs' own quick retries.
    for (let attempt = 1; ; attempt++) {
      try {
        await (this.parkedLoaded ??= this.loadParked());
        break;
      } catch {
        await this.waitToRetry(attempt, batch);
      }
    }
    const chains = new Map<string, KafkaMessage[]>();
    for (const message of batch.messages) {
      // Messages without a key keep their order among themselves.
      const key = message.key?.toString('latin1') ?? '';
      const chain = chains.get(key);
      if (chain) chain.push(message);
      else chains.set(key, [message]);
    }
    const work = [...chains.values()];
    let failure: { error: unknown } | undefined;
    // Stopping, rebalanced away or sought elsewhere: what is not started is left for whoever
    // consumes the partition next (not handled, not committed).
    const goOn = () => !failure && batch.active();
    let beating = false;
    let next = 0;
    const worker = async () => {
      for (let chain = work[next++]; chain; chain = work[next++]) {
        for (const message of chain) {
          if (!goOn()) return;
          try {
            await this.handle(decodeMessage(batch.topic, batch.partition, message), batch);
            batch.handled(message.offset);
          } catch (error) {
            failure ??= { error };
            return;
          }
          if (beating) continue;
          // kafkajs sends one only when its interval is up; a rebalance answers with an error.
          beating = true;
          try {
            await batch.heartbeat();
          } catch (error) {
            failure ??= { error };
            return;
          } finally {
            beating = false;
          }
        }
      }
    };
    const width = Math.max(1, Math.min(this.options.keysConcurrently ?? 1, work.length));
    await Promise.all(Array.from({ length: width }, worker));
    if (failure) throw failure.error;
  }

  /** The parked sequences, read again (a failure is the batch's: it is fetched again). */
  private async loadParked(): Promise<void> {
    try {
      const sequences = await this.inbox.parkedSequences(this.options.groupId);
      this.parked.clear();
      for (const s of sequences) this.parked.add(sequenceKey(s.topic, s.key));
    } catch (error) {
      this.parkedLoaded = undefined;
      throw error;
    }
  }

  private handle(message: ConsumedMessage, batch: FetchedBatch): Promise<void> {
    return consuming(
      `${message.topic} process`,
      message.headers,
      messagingAttributes(message.topic, 'process', {
        'messaging.consumer.group.name': this.options.groupId,
        'messaging.message.id': message.messageId,
        'messaging.kafka.message.key': message.key ?? '',
        'messaging.kafka.offset': Number(message.offset),
        'messaging.destination.partition.id': String(message.partition),
      }),
      () =>
        logContext.run(
          {
            correlationId: message.headers['correlation-id'] ?? message.messageId,
            causationId: message.messageId,
          },
          () => this.handleInSpan(message, batch),
        ),
    );
  }

  private async handleInSpan(message: ConsumedMessage, batch: FetchedBatch): Promise<void> {
    const inbox: InboxRef = { consumer: this.options.groupId, messageId: message.messageId };
    const attributes = { consumer: this.options.groupId, topic: message.topic };
    if (
      (this.options.checkInboxFirst ?? true) &&
      (await this.inbox.handled(inbox.consumer, inbox.messageId))
    ) {
      this.processed?.add(1, { ...attributes, outcome: 'duplicate' });
      return;
    }
    const sequence = sequenceKey(message.topic, message.key ?? '');
    if (this.parked.has(sequence)) {
      const outcome = await this.inbox.park(this.letter(message, 'behind', null, 0), true);
      if (outcome !== 'not-parked') {
        this.processed?.add(1, { ...attributes, outcome: 'parked' });
        return;
      }
      this.parked.delete(sequence); // redriven or discarded meanwhile: handled as any other
    }
    const stallKey = `${message.topic}/${message.partition}@${message.offset}`;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          if (typeof message.payload === 'string') throw new PoisonMessage('payload is not JSON');
          await this.options.handler(message, inbox);
          this.processed?.add(1, { ...attributes, outcome: 'handled' });
          return;
        } catch (error) {
          if (error instanceof AlreadyHandledError) {
            this.processed?.add(1, { ...attributes, outcome: 'duplicate' });
            return;
          }
          this.options.onError?.(error, message, attempt);
          const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          if (isPermanent(error)) {
            await this.deadLetter(message, reason, attempt);
            return;
          }
          // Transient: again, after a wait, for as long as it takes.
          this.processed?.add(1, { ...attributes, outcome: 'retried' });
          this.stalledNow.set(stallKey, {
            topic: message.topic,
            partition: message.partition,
            offset: message.offset,
            key: message.key,
            messageId: message.messageId,
            since: this.stalledNow.get(stallKey)?.since ?? new Date(),
            attempts: attempt,
            error: reason,
          });
          await this.waitToRetry(attempt, batch);
        }
      }
    } finally {
      this.stalledNow.delete(stallKey);
    }
  }

  /**
   * The back-off before the next try, keeping the member in its group. Ends the retrying (not
   * handled, so not committed: whoever holds the partition next gets the message again) when
   * the consumer stops or the partition was taken away.
   */
  private async waitToRetry(attempt: number, batch: FetchedBatch): Promise<void> {
    const wait = backoffMs(
      attempt,
      this.options.backoffMs ?? 100,
      this.options.maxBackoffMs ?? 30_000,
    );
    const until = Date.now() + wait;
    try {
      // In steps under the session timeout, with a heartbeat between them.
      while (Date.now() < until) {
        await sleep(Math.min(1_000, until - Date.now()), undefined, { signal: this.core.signal });
        await batch.heartbeat();
        if (!batch.active()) break;
      }
    } catch (error) {
      throw new RetryAbandoned(
        `stopped retrying: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (!batch.active()) throw new RetryAbandoned('stopped retrying: the partition is not ours');
  }

  /** Parks a message that can never be handled; the later messages of its key wait behind it. */
  private async deadLetter(
    message: ConsumedMessage,
    reason: string,
    attempt: number,
  ): Promise<void> {
    const attributes = { consumer: this.options.groupId, topic: message.topic };
    // Not written (an error): not handled, so not committed, and Kafka redelivers it.
    await this.inbox.park(this.letter(message, 'failed', reason, attempt), false);
    this.parked.add(sequenceKey(message.topic, message.key ?? ''));
    this.processed?.add(1, { ...attributes, outcome: 'dead-lettered' });
    this.deadLettered?.add(1, attributes);
  }

  private letter(
    message: ConsumedMessage,
    cause: ParkCause,
    error: string | null,
    attempts: number,
  ): NewDeadLetter {
    const consumer = this.options.groupId;
    return {
      consumer,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      key: message.key ?? '',
      messageId: message.messageId,
      headers: message.headers,
      payload: message.payload,
      raw: typeof message.payload === 'string',
      cause,
      error,
      attempts,
      metadata: metadataOf(message),
      noticeTopic: dlqTopic(message.topic),
      noticeHeaders: deadLetterHeaders(message, consumer, error ?? '', attempts),
    };
  }
}
