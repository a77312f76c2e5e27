// Consumes Kafka messages with exactly-once effects on an at-least-once feed:
// - a message already in the consumer's inbox is skipped (a read, no write);
// - the handler's own append writes the inbox mark in the same statement as its events, so the
//   mark is durable exactly when the effect is, and nothing is written before the handler loads
//   its stream (see docs/event-store.md on transaction order);
// - offsets are committed only for messages whose handling returned;
// - a failing message is retried with back-off, then dead-lettered to <topic>.dlq through the
//   outbox, atomically with its inbox mark, and consumption goes on.
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Meter } from '@opentelemetry/api';
import {
  AlreadyHandledError,
  uuidv7,
  type EventMetadata,
  type PostgresEventStore,
} from '@es/event-store';
import { logContext } from '@es/observability';
import { dlqTopic } from './topics';
import { consuming, currentTraceparent, messagingAttributes } from './tracing';

export interface ConsumedMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly payload: unknown;
}

export interface InboxRef {
  readonly consumer: string;
  readonly messageId: string;
}

/** Must write its effect through the event store with `inbox` (the command handler does). */
export type MessageHandler = (message: ConsumedMessage, inbox: InboxRef) => Promise<void>;

export interface InboxConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly handler: MessageHandler;
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
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

/** A message that can never be handled (not JSON, not of its contract): dead-lettered at once. */
export class PoisonMessage extends Error {
  override name = 'PoisonMessage';
}

/**
 * The metadata of what a message causes: its correlation and trace go on, it is the cause. The
 * trace is the handling span's when tracing is on (so what it writes is a child of it), else
 * the message's own traceparent.
 */
export function metadataOf(message: ConsumedMessage, actor?: string): EventMetadata {
  const traceparent = currentTraceparent() ?? message.headers['traceparent'];
  return {
    correlationId: message.headers['correlation-id'] ?? message.messageId,
    causationId: message.messageId,
    ...(traceparent ? { traceparent } : {}),
    ...(actor ? { actor } : {}),
  };
}

/** A Kafka message's headers as text (the first value of a repeated header). */
export function headersOf(message: Pick<KafkaMessage, 'headers'>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (value !== undefined)
      headers[name] = Array.isArray(value) ? String(value[0]) : String(value);
  }
  return headers;
}

function decode(topic: string, partition: number, message: KafkaMessage): ConsumedMessage {
  const headers = headersOf(message);
  const raw = message.value?.toString() ?? '';
  const base = {
    topic,
    partition,
    offset: message.offset,
    key: message.key?.toString() ?? null,
    headers,
  };
  // A message without an id cannot be deduplicated: identify it by its place in the log.
  const messageId = headers['message-id'] ?? `${topic}/${partition}/${message.offset}`;
  try {
    return { ...base, messageId, payload: JSON.parse(raw) as unknown };
  } catch {
    return { ...base, messageId, payload: raw };
  }
}

export class InboxConsumer {
  private readonly consumer: Consumer;
  /** Per partition, the offset after its last handled message, not yet committed. */
  private readonly handledUpTo = new Map<
    string,
    { topic: string; partition: number; offset: string }
  >();
  private commitTimer: NodeJS.Timeout | undefined;
  /** Batches being handled (with their messages in hand): stop() waits for them to finish. */
  private batches = 0;
  private stopping = false;
  /** The commit in flight: a tick while one runs is skipped, so commits never queue up. */
  private committing: Promise<void> | undefined;
  private readonly processed;
  private readonly deadLettered;

  constructor(
    kafka: Kafka,
    private readonly store: PostgresEventStore,
    private readonly options: InboxConsumerOptions,
  ) {
    // A member that died (SIGKILL) holds its partitions until its session times out: 10 s, not
    // kafkajs' 30 s, so a restarted instance resumes the work sooner.
    this.consumer = kafka.consumer({
      groupId: options.groupId,
      maxWaitTimeInMs: 250,
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
      heartbeatInterval: 1_000,
    });
    this.processed = options.meter?.createCounter('consumer_messages_total', {
      description: 'Messages handled, by outcome',
    });
    this.deadLettered = options.meter?.createCounter('consumer_dead_letters_total', {
      description: 'Messages sent to a DLQ',
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: [...this.options.topics],
      fromBeginning: this.options.fromBeginning ?? true,
    });
    // Offsets are committed here, on an interval, not by kafkajs: its auto-commit commits after
    // every fetched batch whatever the interval, an awaited round trip to the broker in front of
    // the partition's next batch (50-65 commits/s per service in the saga bench). A message's
    // offset is committed only once its handling returned, its effect and inbox mark durable;
    // what a crash leaves uncommitted is redelivered and answered by the inbox.
    // After a rebalance, what was handled on partitions now someone else's is not committed
    // from here (it could move their committed offset back): they redeliver, the inbox answers.
    // Before a rebalance takes partitions away, what was handled on them is committed.
    this.consumer.on(this.consumer.events.REBALANCING, () => {
      void this.commitHandled();
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
      for (const [key, o] of this.handledUpTo)
        if (!payload.memberAssignment[o.topic]?.includes(o.partition)) this.handledUpTo.delete(key);
    });
    this.commitTimer = setInterval(() => {
      void this.commitHandled();
    }, this.options.commitIntervalMs ?? 500);
    await this.consumer.run({
      autoCommit: false,
      // What this resolves is what was handled: a batch left part-way (stopping, a rebalance, a
      // failure) is fetched again from its first message not handled.
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.handleBatch(payload),
    });
  }

  /**
   * One partition's fetched messages: each key's in order, up to `keysConcurrently` keys at
   * once. Offsets advance over the messages handled without a gap; after a failure no new
   * message is started, the batch's handled prefix is resolved, and the error goes to kafkajs,
   * which fetches the partition again from there (what was handled past it, the inbox answers).
   */
  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { messages } = payload.batch;
    const chains = new Map<string, KafkaMessage[]>();
    for (const message of messages) {
      // Messages without a key keep their order among themselves.
      const key = message.key?.toString('latin1') ?? '';
      const chain = chains.get(key);
      if (chain) chain.push(message);
      else chains.set(key, [message]);
    }
    this.batches++;
    try {
      await this.handleChains(payload, [...chains.values()]);
    } finally {
      this.batches--;
    }
  }

  private async handleChains(payload: EachBatchPayload, work: KafkaMessage[][]): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    const handled = new Set<string>();
    // Offsets advance message by message over what was handled without a gap, so the commit
    // interval and stop() see the progress of a long batch, not only its end.
    let prefix = 0;
    const advance = () => {
      const from = prefix;
      while (prefix < messages.length && handled.has(messages[prefix]?.offset ?? '')) prefix++;
      const last = messages[prefix - 1];
      if (prefix === from || !last) return;
      payload.resolveOffset(last.offset);
      this.handledUpTo.set(`${topic}/${partition}`, {
        topic,
        partition,
        offset: (BigInt(last.offset) + 1n).toString(),
      });
    };
    let failure: { error: unknown } | undefined;
    // Stopping, rebalanced away or sought elsewhere: what is not started is left for whoever
    // consumes the partition next (not handled, not resolved, not committed).
    const goOn = () => !this.stopping && !failure && payload.isRunning() && !payload.isStale();
    let beating = false;
    let next = 0;
    const worker = async () => {
      for (let chain = work[next++]; chain; chain = work[next++]) {
        for (const message of chain) {
          if (!goOn()) return;
          try {
            await this.handle(decode(topic, partition, message));
            handled.add(message.offset);
            advance();
          } catch (error) {
            failure ??= { error };
            return;
          }
          if (beating) continue;
          // kafkajs sends one only when its interval is up; a rebalance answers with an error.
          beating = true;
          try {
            await payload.heartbeat();
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

  /**
   * Stops fetching, lets the messages in hand finish (at most `graceMs`), commits what was
   * handled, then leaves the group. (kafkajs drops commits once its consumer is stopped.)
   */
  async stop(graceMs = 10_000): Promise<void> {
    clearInterval(this.commitTimer);
    this.stopping = true;
    const deadline = Date.now() + graceMs;
    const bounded = (work: Promise<void>) =>
      Promise.race([
        work,
        new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now()))),
      ]);
    try {
      this.consumer.pause(this.options.topics.map((topic) => ({ topic })));
      while (this.batches > 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 10));
      // The commit in flight, then one more for what was handled since; both within the grace.
      await bounded(this.committing ?? Promise.resolve());
      await bounded(this.commitHandled());
    } catch {
      // Never started (or already gone): nothing handled to commit.
    }
    await this.consumer.disconnect();
  }

  /** Commits the handled offsets, unless a commit is in flight (the next tick takes them). */
  private commitHandled(): Promise<void> {
    if (this.committing) return this.committing;
    if (this.handledUpTo.size === 0) return Promise.resolve();
    const offsets = [...this.handledUpTo.values()];
    this.handledUpTo.clear();
    this.committing = this.consumer
      .commitOffsets(offsets)
      .catch((error: unknown) => {
        // A rebalance took the partitions, or the broker is away: whoever consumes them next
        // starts from the last commit, and the inbox answers what it sees again. Kept to retry
        // unless a later offset was handled meanwhile.
        for (const o of offsets) {
          const key = `${o.topic}/${o.partition}`;
          if (!this.handledUpTo.has(key)) this.handledUpTo.set(key, o);
        }
        this.options.onCommitError?.(error);
      })
      .finally(() => {
        this.committing = undefined;
      });
    return this.committing;
  }

  private handle(message: ConsumedMessage): Promise<void> {
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
          () => this.handleInSpan(message),
        ),
    );
  }

  private async handleInSpan(message: ConsumedMessage): Promise<void> {
    const inbox: InboxRef = { consumer: this.options.groupId, messageId: message.messageId };
    const attributes = { consumer: this.options.groupId, topic: message.topic };
    if (
      (this.options.checkInboxFirst ?? true) &&
      (await this.store.handled(inbox.consumer, inbox.messageId))
    ) {
      this.processed?.add(1, { ...attributes, outcome: 'duplicate' });
      return;
    }
    const maxAttempts = this.options.maxAttempts ?? 3;
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
        if (attempt >= maxAttempts || error instanceof PoisonMessage) {
          await this.deadLetter(message, inbox, error, attempt);
          this.processed?.add(1, { ...attributes, outcome: 'dead-lettered' });
          this.deadLettered?.add(1, attributes);
          return;
        }
        await new Promise((resolve) =>
          setTimeout(resolve, (this.options.backoffMs ?? 100) * 2 ** (attempt - 1)),
        );
      }
    }
  }

  private async deadLetter(
    message: ConsumedMessage,
    inbox: InboxRef,
    error: unknown,
    attempts: number,
  ): Promise<void> {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const metadata = metadataOf(message);
    try {
      await this.store.append({ type: '$dead-letter', id: message.messageId }, [], {
        expectedVersion: 'any',
        metadata,
        outbox: [
          {
            topic: dlqTopic(message.topic),
            key: message.key ?? message.messageId,
            messageId: uuidv7(),
            headers: {
              ...message.headers,
              'dlq-error': reason.slice(0, 2_000),
              'dlq-consumer': inbox.consumer,
              'dlq-attempts': String(attempts),
              'dlq-original-topic': message.topic,
              'dlq-original-partition': String(message.partition),
              'dlq-original-offset': message.offset,
              'dlq-original-message-id': message.messageId,
            },
            payload: message.payload,
          },
        ],
        inbox: { ...inbox, result: { deadLettered: true, error: reason } },
      });
    } catch (dlqError) {
      if (dlqError instanceof AlreadyHandledError) return;
      throw dlqError; // not committed: Kafka redelivers it
    }
  }
}
