// Runs one projection (one generation of it: a collection and its consumer group) from Kafka,
// a policy over the consumer core (@es/messaging), which owns sessions, offsets and rebalances:
// - each fetched batch is decoded, checked (prepare) and written in chunks by the ProjectionWriter,
//   one read and one bulkWrite per chunk;
// - a chunk's messages are reported handled (and so committed) only after its write returned; a
//   crash redelivers at most the unacknowledged chunks, which the version guards skip;
// - an event that can never be projected (not JSON, not an event, not its schema, evolve throws)
//   goes to `<topic>.dlq` with the reason in its headers, and the projection goes on;
// - a failing write (MongoDB down) is retried with back-off for as long as it takes: dead-lettering
//   good events because the database is away would lose them from the read model. The lag shows it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Collection } from 'mongodb';
import {
  SpanKind,
  SpanStatusCode,
  type Attributes,
  type Meter,
  type Span,
} from '@opentelemetry/api';
import {
  ConsumerCore,
  backoffMs,
  sendWhole,
  wholeBatchProducer,
  contextOf,
  deadLetterHeaders,
  decodeMessage,
  dlqTopic,
  eventEnvelopeSchema,
  headersOf,
  messagingAttributes,
  tracer,
  type EventEnvelope,
  type FetchedBatch,
} from '@es/messaging';
import type { StoredDocument } from './apply';
import { ProjectionWriter } from './mongo-writer';
import type { Projection } from './projection';

export interface RunnerOptions {
  readonly kafka: Kafka;
  readonly projection: Projection;
  readonly collection: Collection<StoredDocument>;
  readonly groupId: string;
  /** Labels this runner in metrics and logs (the collection's generation). */
  readonly generation: number;
  /** The topics it reads: the projection's by default. */
  readonly topics?: readonly string[];
  /**
   * Whether a message is for this runner to fold; one that is not is passed over (counted
   * ignored, its offset committed). All are by default.
   */
  readonly accept?: (message: KafkaMessage, topic: string, partition: number) => boolean;
  /**
   * Events per write (at most one find and one bulkWrite); 2,000 by default: bigger chunks fold
   * more events into each document write (bench/projection.mts: a rebuild ran 2.2x faster than
   * with 500 on FerretDB).
   */
  readonly chunkSize?: number;
  /** Partitions written at once, each in order; 3 by default. */
  readonly partitionsConsumedConcurrently?: number;
  /** First back-off after a failed write, doubling up to 5 s; 100 ms by default. */
  readonly retryBackoffMs?: number;
  readonly meter?: Meter;
  readonly log?: (level: 'info' | 'warn' | 'error', message: string, fields?: object) => void;
}

export interface PartitionProgress {
  readonly topic: string;
  readonly partition: number;
  /** The last offset written (and so committable); one before the first fetched at the start. */
  readonly appliedOffset: string;
  readonly highWatermark: string;
  readonly lagEvents: number;
  /** How long the oldest event not yet written has waited; 0 when caught up. */
  readonly lagSeconds: number;
}

export interface RunnerStats {
  readonly applied: number;
  readonly duplicates: number;
  readonly ignored: number;
  readonly deadLettered: number;
  readonly writeFailures: number;
}

interface Progress {
  /** False until a batch of the partition was fetched here: then lag is not known yet (0). */
  fetched: boolean;
  appliedOffset: string;
  highWatermark: string;
  /** Kafka timestamp (ms) of the oldest message fetched and not yet written. */
  pendingSince: number | undefined;
}

export class ProjectionRunner {
  private readonly core: ConsumerCore;
  private readonly producer: Producer;
  private writer: ProjectionWriter;
  private readonly progress = new Map<string, Progress & { topic: string; partition: number }>();
  private readonly stats = {
    applied: 0,
    duplicates: 0,
    ignored: 0,
    deadLettered: 0,
    writeFailures: 0,
  };
  private readonly attributes: Attributes;
  private readonly counter;
  private readonly writeSeconds;
  private running = false;

  constructor(private readonly options: RunnerOptions) {
    this.writer = new ProjectionWriter(options.projection, options.collection);
    // The partitions held here are those of the last assignment: the lag of one that moved to
    // another instance is that instance's to report. One not fetched from yet shows no lag.
    this.core = new ConsumerCore(
      options.kafka,
      {
        groupId: options.groupId,
        topics: options.topics ?? options.projection.topics,
        maxWaitTimeInMs: 100,
        commitIntervalMs: 1_000,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 3,
        onAssignment: (assignment) => {
          this.hold(assignment);
        },
        onCommitError: (error) => {
          options.log?.('warn', 'projection offsets not committed; retried', {
            projection: options.projection.name,
            error: error instanceof Error ? error.message : String(error),
          });
        },
      },
      (batch) => this.eachBatch(batch),
    );
    // Dead letters go out whole or not at all (kafka-publisher.ts, on kafkajs' retries).
    this.producer = wholeBatchProducer(options.kafka);
    this.attributes = { projection: options.projection.name, generation: options.generation };
    this.counter = options.meter?.createCounter('projection_events_total', {
      description: 'Events seen by a projection, by outcome',
    });
    this.writeSeconds = options.meter?.createHistogram('projection_write_seconds', {
      description: 'Duration of one chunk write (find + bulkWrite)',
      unit: 's',
    });
  }

  get groupId(): string {
    return this.options.groupId;
  }

  get projectionName(): string {
    return this.options.projection.name;
  }

  get generation(): number {
    return this.options.generation;
  }

  async start(): Promise<void> {
    // A generation that starts empty (a rebuild, a first deployment) needs no reads for
    // documents it has not written (ProjectionWriter).
    const startedEmpty = (await this.options.collection.estimatedDocumentCount()) === 0;
    this.writer = new ProjectionWriter(this.options.projection, this.options.collection, {
      startedEmpty,
    });
    await this.producer.connect();
    await this.core.start();
    this.running = true;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.core.stop();
    await this.producer.disconnect();
  }

  private hold(assignment: Readonly<Record<string, readonly number[]>>): void {
    const held = new Set<string>();
    for (const [topic, partitions] of Object.entries(assignment))
      for (const partition of partitions) {
        const key = `${topic}/${partition}`;
        held.add(key);
        if (!this.progress.has(key))
          this.progress.set(key, {
            fetched: false,
            topic,
            partition,
            appliedOffset: '-1',
            highWatermark: '0',
            pendingSince: undefined,
          });
      }
    for (const key of this.progress.keys()) if (!held.has(key)) this.progress.delete(key);
  }

  /** Per partition this instance has seen: where it is and how far behind. */
  partitions(now = Date.now()): PartitionProgress[] {
    return [...this.progress.values()].map((p) => {
      const lagEvents = lag(p.highWatermark, p.appliedOffset);
      return {
        topic: p.topic,
        partition: p.partition,
        appliedOffset: p.appliedOffset,
        highWatermark: p.highWatermark,
        lagEvents,
        lagSeconds:
          lagEvents > 0 && p.pendingSince !== undefined
            ? Math.max(0, now - p.pendingSince) / 1000
            : 0,
      };
    });
  }

  counts(): RunnerStats {
    return { ...this.stats };
  }

  isRunning(): boolean {
    return this.running;
  }

  private async eachBatch(batch: FetchedBatch): Promise<void> {
    const key = `${batch.topic}/${batch.partition}`;
    const known = this.progress.get(key);
    const progress = known?.fetched
      ? known
      : {
          fetched: true,
          topic: batch.topic,
          partition: batch.partition,
          // Where this instance took the partition over: everything before was written by then.
          appliedOffset: (BigInt(batch.firstOffset) - 1n).toString(),
          highWatermark: batch.highWatermark,
          pendingSince: undefined,
        };
    this.progress.set(key, progress);
    progress.highWatermark = batch.highWatermark;
    const chunkSize = this.options.chunkSize ?? 2_000;
    const messages = batch.messages;
    const active = () => batch.active();
    const heartbeat = () => batch.heartbeat();
    for (let start = 0; start < messages.length; start += chunkSize) {
      if (!active()) return;
      const chunk = messages.slice(start, start + chunkSize);
      progress.pendingSince = Number(chunk[0]?.timestamp);
      const events: EventEnvelope[] = [];
      const sources = new Map<EventEnvelope, KafkaMessage>();
      const poison: { message: KafkaMessage; reason: string }[] = [];
      // A span per event, in the trace of the write that caused it, ended with the chunk's
      // write (libs/messaging tracing.ts): one order's trace shows each read model it reached.
      const spans = new Map<KafkaMessage, Span>();
      for (const message of chunk) {
        const decoded =
          this.options.accept && !this.options.accept(message, batch.topic, batch.partition)
            ? undefined
            : this.decode(message);
        if (decoded === undefined) {
          this.count('ignored');
          continue;
        }
        spans.set(message, this.spanFor(batch.topic, batch.partition, message));
        if ('poison' in decoded) poison.push({ message, reason: decoded.poison });
        else {
          events.push(decoded);
          sources.set(decoded, message);
        }
      }
      const outcome = await this.writeUntilDone(events, active, heartbeat);
      if (!outcome) {
        for (const span of spans.values()) span.end();
        return; // stopping or rebalanced: nothing of this chunk is resolved
      }
      this.count('applied', outcome.applied);
      this.count('duplicate', outcome.duplicates);
      for (const failure of outcome.failures) {
        const message = sources.get(failure.event);
        if (message) poison.push({ message, reason: `evolve failed: ${failure.error}` });
      }
      try {
        if (poison.length > 0) await this.deadLetter(batch.topic, batch.partition, poison);
        for (const { message, reason } of poison)
          spans.get(message)?.setStatus({ code: SpanStatusCode.ERROR, message: reason });
      } finally {
        for (const span of spans.values()) span.end();
      }
      const last = chunk[chunk.length - 1];
      if (!last) continue;
      for (const message of chunk) batch.handled(message.offset);
      progress.appliedOffset = last.offset;
      const next = messages[start + chunk.length];
      progress.pendingSince = next ? Number(next.timestamp) : undefined;
      await heartbeat();
    }
  }

  private spanFor(topic: string, partition: number, message: KafkaMessage): Span {
    const headers = headersOf(message);
    return tracer.startSpan(
      `project ${this.options.projection.name}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: messagingAttributes(topic, 'process', {
          'messaging.consumer.group.name': this.options.groupId,
          'messaging.destination.partition.id': String(partition),
          'messaging.kafka.offset': Number(message.offset),
          'messaging.message.id': headers['message-id'] ?? '',
        }),
      },
      contextOf(headers),
    );
  }

  private decode(message: KafkaMessage): EventEnvelope | undefined | { poison: string } {
    let json: unknown;
    try {
      json = JSON.parse(message.value?.toString() ?? '');
    } catch {
      return { poison: 'the message is not JSON' };
    }
    const envelope = eventEnvelopeSchema.safeParse(json);
    if (!envelope.success)
      return {
        poison: `not an event envelope: ${envelope.error.issues
          .map((i) => `${i.path.join('.') || '(value)'}: ${i.message}`)
          .join('; ')}`,
      };
    try {
      return this.options.projection.prepare(envelope.data);
    } catch (error) {
      // An upcaster that throws on this event would throw on every redelivery too.
      return {
        poison: `cannot be prepared: ${error instanceof Error ? error.message : String(error)}`,
      };
    }
  }

  private async writeUntilDone(
    events: readonly EventEnvelope[],
    active: () => boolean,
    heartbeat: () => Promise<void>,
  ) {
    const base = this.options.retryBackoffMs ?? 100;
    for (let attempt = 1; ; attempt++) {
      const started = performance.now();
      try {
        const outcome = await this.writer.write(events);
        this.writeSeconds?.record((performance.now() - started) / 1000, this.attributes);
        return outcome;
      } catch (error) {
        this.stats.writeFailures++;
        this.options.log?.('warn', 'projection write failed; retrying', {
          projection: this.options.projection.name,
          generation: this.options.generation,
          attempt,
          error: error instanceof Error ? error.message : String(error),
        });
        try {
          await sleep(backoffMs(attempt, base, 5_000), undefined, { signal: this.core.signal });
          await heartbeat();
        } catch {
          return undefined; // stopping, or the group rebalanced under us
        }
        if (!active()) return undefined;
      }
    }
  }

  private async deadLetter(
    topic: string,
    partition: number,
    poison: readonly { message: KafkaMessage; reason: string }[],
  ): Promise<void> {
    await sendWhole(this.producer, [
      {
        topic: dlqTopic(topic),
        messages: poison.map(({ message, reason }) => ({
          key: message.key,
          value: message.value,
          headers: deadLetterHeaders(
            decodeMessage(topic, partition, message),
            this.options.groupId,
            reason,
            1,
          ),
        })),
      },
    ]);
    this.count('dead-lettered', poison.length);
    for (const { message, reason } of poison)
      this.options.log?.('warn', 'event dead-lettered', {
        projection: this.options.projection.name,
        topic,
        partition,
        offset: message.offset,
        reason,
      });
  }

  private count(outcome: 'applied' | 'duplicate' | 'ignored' | 'dead-lettered', n = 1): void {
    if (n === 0) return;
    if (outcome === 'applied') this.stats.applied += n;
    else if (outcome === 'duplicate') this.stats.duplicates += n;
    else if (outcome === 'ignored') this.stats.ignored += n;
    else this.stats.deadLettered += n;
    this.counter?.add(n, { ...this.attributes, outcome });
  }
}

/** Events after offset `applied` up to the high watermark (the next offset to be written). */
export function lag(highWatermark: string, applied: string): number {
  const behind = BigInt(highWatermark) - (BigInt(applied) + 1n);
  return behind > 0n ? Number(behind) : 0;
}
