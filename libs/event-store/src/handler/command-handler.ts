// The command-handling loop, written once: load (snapshot + newer events, upcast) -> fold ->
// decide -> append events + outbox rows + inbox mark (+ snapshot) atomically; on a concurrency
// conflict, reload and decide again, a bounded number of times. One stream's append is ONE
// statement; commands over several streams (reserve every line of an order, hold funds and
// authorize a payment, a payment's capture and its account's debit) append in one transaction,
// all or nothing. Commands on a stream are serialized within the process (StreamLocks), so
// only other processes cause conflicts. The state a command is decided on may come from the
// handler's cache of the streams it wrote or loaded (aggregate-cache.ts): no load, and the
// append's expected version is the proof. How one command is decided is on-stream.ts.
// NestJS command handlers are thin adapters over handle() and handleAll().
import type { Meter } from '@opentelemetry/api';
import { DomainError, fold, type DomainEvent } from '@es/decider';
import type { AppendItem } from '../append/prepare-append';
import type { OutboxMessage } from '../outbox/outbox-message';
import { AlreadyHandledError } from '@es/messaging';
import { CommandsRefusedError, ConcurrencyError, IdempotencyKeyReusedError } from '../store/errors';
import type { PostgresEventStore } from '../store/event-store';
import { streamKey } from '@es/messaging';
import type { EventMetadata } from '@es/messaging';
import type { RecordedEvent, StreamRef } from '../store/types';
import { uuidv7 } from '../store/uuid';
import type { AggregateDefinition } from './aggregate';
import { AggregateCache } from './aggregate-cache';
import {
  onStream,
  type AggregateCommand,
  type AppendPlan,
  type LoadedAggregate,
} from './on-stream';
import type { Decision, Refusal } from './decision';
import { StreamLocks } from './stream-locks';

export interface InboxContext {
  readonly consumer: string;
  readonly messageId: string;
  /**
   * What the message or request was (a hash of its content). A key seen before with another
   * fingerprint is refused (IdempotencyKeyReusedError) rather than answered with the first result.
   */
  readonly fingerprint?: string;
}

export interface HandleContext {
  readonly metadata: EventMetadata;
  /** Refuse (ConcurrencyError) unless the stream is at this version (HTTP If-Match); no retry then. */
  readonly expectedVersion?: number;
  /** Deduplicate: a (consumer, messageId) seen before returns its first result and writes nothing. */
  readonly inbox?: InboxContext;
  /**
   * Further messages written with the unit of work, in the same transaction (a saga
   * participant's reply): sent exactly when the effect happens.
   */
  readonly outbox?: readonly OutboxMessage[];
}

export interface StreamResult {
  readonly streamType: string;
  readonly streamId: string;
  /** The stream's version after the command: the consistency token's version. */
  readonly version: number;
  readonly eventIds: readonly string[];
}

export interface HandleResult {
  readonly streamId: string;
  readonly version: number;
  readonly eventIds: readonly string[];
  /** True when this is the stored result of an earlier handling of the same message. */
  readonly duplicate: boolean;
}

export interface HandleAllResult {
  /** In the order the commands were given. */
  readonly streams: readonly StreamResult[];
  readonly duplicate: boolean;
}

/** What the inbox keeps of a handled command: enough to answer a retry the same way. */
interface StoredResult {
  readonly streams: readonly StreamResult[];
  readonly fingerprint?: string;
}

export class CommandHandler {
  private readonly locks = new StreamLocks();
  private readonly cache: AggregateCache;

  private readonly commandsTotal;
  private readonly appendSeconds;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly options: {
      readonly maxAttempts?: number;
      readonly meter?: Meter;
      /** Streams whose last known state is kept (aggregate-cache.ts); 0 turns the cache off. */
      readonly cachedStreams?: number;
    } = {},
  ) {
    this.cache = new AggregateCache(options.cachedStreams ?? 10_000);
    this.commandsTotal = options.meter?.createCounter('commands_total', {
      description: 'Commands handled, by stream type, command and outcome',
    });
    this.appendSeconds = options.meter?.createHistogram('event_store_append_seconds', {
      description: "A command's append: events, outbox rows and inbox mark in one transaction",
      unit: 's',
    });
  }

  /**
   * The aggregate's current state: its snapshot (when it keeps them) and the newer events, in
   * one query, which also looks up `inbox` when given (then `handled` says it was handled).
   */
  async load<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
    inbox?: Pick<InboxContext, 'consumer' | 'messageId'>,
  ): Promise<LoadedAggregate<S>> {
    const stream: StreamRef = { type: definition.streamType, id: streamId };
    const { decider, snapshot } = definition;
    let state = decider.initialState();
    let version = 0;
    let fromSnapshot: number | undefined;
    const read = await this.store.readFromSnapshot(
      stream,
      snapshot?.schemaVersion,
      inbox ? { inbox } : {},
    );
    if (snapshot && read.snapshot) {
      const stored = read.snapshot.state;
      state = snapshot.deserialize ? snapshot.deserialize(stored) : (stored as S);
      version = read.snapshot.streamVersion;
      fromSnapshot = version;
    }
    const { events } = read;
    state = fold(decider, state, events as unknown as readonly E[]);
    version = events.at(-1)?.streamVersion ?? version;
    this.cache.set(streamKey(stream), definition, version, state);
    return {
      state,
      version,
      ...(fromSnapshot === undefined ? {} : { fromSnapshot }),
      ...(read.handled ? { handled: read.handled } : {}),
    };
  }

  /**
   * The state to decide a command on: the cached one when there is one, or the initial state
   * when the stream is assumed new (no query either way; the inbox is then checked by the
   * append, and the state is marked `cached`: unverified), else a fresh load.
   */
  async loadForDecision<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
    inbox?: Pick<InboxContext, 'consumer' | 'messageId'>,
    options: { readonly assumeNew?: boolean } = {},
  ): Promise<LoadedAggregate<S>> {
    const cached = this.cache.get<S>(
      streamKey({ type: definition.streamType, id: streamId }),
      definition,
    );
    if (cached) return { state: cached.state, version: cached.version, cached: true };
    if (options.assumeNew)
      return { state: definition.decider.initialState(), version: 0, cached: true };
    return this.load(definition, streamId, inbox);
  }

  /** The aggregate as it was at a version or a time, rebuilt from its events alone. */
  async loadAt<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
    at: { readonly toVersion: number } | { readonly asOf: Date },
  ): Promise<LoadedAggregate<S>> {
    const events = await this.store.readStream({ type: definition.streamType, id: streamId }, at);
    const state = fold(
      definition.decider,
      definition.decider.initialState(),
      events as readonly RecordedEvent[] as unknown as readonly E[],
    );
    return { state, version: events.at(-1)?.streamVersion ?? 0 };
  }

  /** One command on one stream. A refusal is the decider's DomainError. */
  async handle<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
    command: C,
    context: HandleContext,
    streamOptions: { readonly assumeNew?: boolean } = {},
  ): Promise<HandleResult> {
    const options = {
      ...streamOptions,
      ...(context.expectedVersion === undefined
        ? {}
        : { expectedVersion: context.expectedVersion }),
    };
    const result = await this.run(
      [onStream(definition, streamId, command, options)],
      context,
      (refusals) => refusals[0]?.error ?? new CommandsRefusedError(refusals),
    );
    const stream = result.streams[0];
    if (!stream) throw new Error(`no result for ${definition.streamType}/${streamId}`);
    return {
      streamId: stream.streamId,
      version: stream.version,
      eventIds: stream.eventIds,
      duplicate: result.duplicate,
    };
  }

  /**
   * Commands over several streams as one unit of work: every stream is decided on its current
   * state and everything is appended in one transaction, or nothing is. When any command is
   * refused, nothing is written and every refusal is reported, each with its stream
   * (CommandsRefusedError), however many commands there are.
   */
  handleAll(
    commands: readonly AggregateCommand[],
    context: HandleContext,
  ): Promise<HandleAllResult> {
    return this.run(commands, context, (refusals) => new CommandsRefusedError(refusals));
  }

  /** The loop, measured; `refused` makes the error a unit of work's refusals are reported as. */
  private async run(
    commands: readonly AggregateCommand[],
    context: HandleContext,
    refused: (refusals: readonly Refusal[]) => Error,
  ): Promise<HandleAllResult> {
    if (!this.commandsTotal) return this.loop(commands, context, refused);
    let outcome = 'failed';
    try {
      const result = await this.loop(commands, context, refused);
      outcome = result.duplicate ? 'duplicate' : 'accepted';
      return result;
    } catch (error) {
      outcome =
        error instanceof CommandsRefusedError || error instanceof DomainError
          ? 'refused'
          : error instanceof ConcurrencyError
            ? 'conflict'
            : 'failed';
      throw error;
    } finally {
      for (const c of commands)
        this.commandsTotal.add(1, {
          stream_type: c.stream.type,
          command: c.name ?? 'unnamed',
          outcome,
        });
    }
  }

  private async loop(
    commands: readonly AggregateCommand[],
    context: HandleContext,
    refused: (refusals: readonly Refusal[]) => Error,
  ): Promise<HandleAllResult> {
    const keys = commands.map((c) => streamKey(c.stream));
    if (keys.length === 0) throw new RangeError('handleAll needs at least one command');
    assertOnePerStream(keys);
    const { inbox } = context;
    const explicit = commands.some((c) => c.expectedVersion !== undefined);
    // 25: two instances draining queues of commands for one hot stream (a popular SKU) can win
    // many rounds in a row against each other; ten attempts ran out under CI load.
    const maxAttempts = explicit ? 1 : (this.options.maxAttempts ?? 25);
    // The streams of follow-on commands (`follows`) are known only once decided, so they are
    // not locked here (taking locks later could wait in a cycle): a concurrent write of one in
    // this process is a conflict like another process's, and the whole unit is retried.
    const release = await this.locks.acquire(keys);
    try {
      for (let attempt = 1; ; attempt++) {
        // Under the lock, and on every attempt: the same message may have been handled while
        // this one waited (a client's retry racing its first request). The first command's
        // load looks it up, in the same query.
        let plans: AppendPlan[];
        try {
          plans = await this.plan(commands, inbox, attempt > 1, refused);
        } catch (refusal) {
          // Refused on a state that a concurrent handling of this very message produced
          // (another instance): the first answer stands, not the refusal.
          const first = inbox && (await this.store.handled(inbox.consumer, inbox.messageId));
          if (inbox && first) return this.replay(inbox, first.result);
          throw refusal;
        }
        const handled = plans.find((p) => p.handled)?.handled;
        if (inbox && handled) return this.replay(inbox, handled.result);
        const started = performance.now();
        try {
          const streams = await this.append(plans, context);
          this.appendSeconds?.record((performance.now() - started) / 1000, {
            stream_type: plans[0]?.stream.type ?? '?',
          });
          for (const p of plans)
            if (p.after)
              this.cache.set(
                streamKey(p.stream),
                p.after.definition,
                p.after.version,
                p.after.state,
              );
          return { streams, duplicate: false };
        } catch (error) {
          // Whatever failed, what these streams are now is not known here: the next command
          // on them loads. (A conflict: another process wrote; a lost connection: the append
          // may have committed.)
          for (const p of plans) this.cache.delete(streamKey(p.stream));
          if (error instanceof AlreadyHandledError && inbox)
            return this.replay(inbox, error.result);
          if (!(error instanceof ConcurrencyError) || attempt >= maxAttempts) throw error;
          // Another process wrote the stream: back off a random while (jitter, growing to
          // 100 ms), so that two writers of one hot stream do not collide again in lockstep.
          await new Promise((resolve) =>
            setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)),
          );
        }
      }
    } finally {
      release();
    }
  }

  /**
   * Decides every command on its stream's state; then the commands their decisions call for
   * (`follows`), round by round, until none is left. Every refusal of a round is reported
   * together.
   */
  private async plan(
    commands: readonly AggregateCommand[],
    inbox: InboxContext | undefined,
    retry: boolean,
    refused: (refusals: readonly Refusal[]) => Error,
  ): Promise<AppendPlan[]> {
    const plans: AppendPlan[] = [];
    let round = commands;
    while (round.length > 0) {
      const first = plans.length === 0;
      const settled = await Promise.allSettled(
        round.map((c, i) => c.plan(this, first && i === 0 ? inbox : undefined, retry)),
      );
      const refusals: Refusal[] = [];
      settled.forEach((outcome, i) => {
        if (outcome.status === 'fulfilled') {
          plans.push(outcome.value);
          return;
        }
        const reason: unknown = outcome.reason;
        if (!(reason instanceof DomainError)) throw reason;
        refusals.push({ stream: round[i]?.stream ?? { type: '?', id: '?' }, error: reason });
      });
      if (refusals.length > 0) throw refused(refusals);
      round = plans.slice(plans.length - settled.length).flatMap((p) => p.follows ?? []);
      assertOnePerStream(
        plans.map((p) => streamKey(p.stream)).concat(round.map((c) => streamKey(c.stream))),
      );
    }
    return plans;
  }

  private async append(
    plans: readonly AppendPlan[],
    context: HandleContext,
  ): Promise<StreamResult[]> {
    // Ids are made here, not in the store, so the inbox row can record them in the same statement.
    const results = plans.map((p): StreamResult => ({
      streamType: p.stream.type,
      streamId: p.stream.id,
      version: p.loadedVersion + p.events.length,
      eventIds: p.events.map(() => uuidv7()),
    }));
    const { inbox } = context;
    const stored: StoredResult = {
      streams: results,
      ...(inbox?.fingerprint === undefined ? {} : { fingerprint: inbox.fingerprint }),
    };
    const item = (plan: AppendPlan, result: StreamResult, first: boolean): AppendItem => ({
      stream: plan.stream,
      events: plan.events,
      options: {
        expectedVersion: plan.loadedVersion,
        metadata: context.metadata,
        eventIds: result.eventIds,
        outbox: first ? [...plan.outbox, ...(context.outbox ?? [])] : plan.outbox,
        // The first append carries the inbox mark: it stops a concurrent duplicate earliest.
        ...(inbox && first
          ? { inbox: { consumer: inbox.consumer, messageId: inbox.messageId, result: stored } }
          : {}),
        ...(plan.snapshot ? { snapshot: plan.snapshot } : {}),
        ...(plan.summary ? { summary: plan.summary } : {}),
      },
    });
    // Appended in stream-key order, whatever order the commands came in: two processes writing
    // overlapping streams then wait on each other's rows in the same order, never in a cycle.
    const items = plans
      .map((plan, i) => [plan, results[i] as StreamResult] as const)
      .sort(([a], [b]) => (streamKey(a.stream) < streamKey(b.stream) ? -1 : 1))
      .map(([plan, result], i) => item(plan, result, i === 0));
    const [only] = items;
    if (only && items.length === 1) {
      await this.store.append(only.stream, only.events, only.options); // one statement
    } else {
      // Every stream's statement in one round trip and one transaction (no BEGIN, no COMMIT).
      await this.store.appendAll(items);
    }
    return results;
  }

  /**
   * Carries a decision out: its commands appended as one unit of work with the context's
   * messages and those its outcome calls for (`messages`: a saga participant's reply), or,
   * when they are refused, what the refusal answers instead. Returns the outcome.
   */
  async carryOut<O>(
    decision: Decision<O>,
    context: HandleContext,
    messages: (outcome: O) => readonly OutboxMessage[] = () => [],
  ): Promise<O> {
    const outbox = [...(context.outbox ?? []), ...messages(decision.outcome)];
    if (decision.commands.length === 0) {
      // Nothing to append: recorded only when there is a message to mark or something to send.
      const recorded =
        context.inbox === undefined && outbox.length === 0
          ? true
          : await this.answer(context, outbox);
      if (!recorded && decision.replayed) return decision.replayed();
      return decision.outcome;
    }
    let result: HandleAllResult;
    try {
      result = await this.handleAll(decision.commands, { ...context, outbox });
    } catch (error) {
      if (!(error instanceof CommandsRefusedError) || !decision.refused) throw error;
      const next = await decision.refused(error.refusals);
      if (!next) throw error;
      return this.carryOut(next, context, messages);
    }
    if (result.duplicate && decision.replayed) return decision.replayed();
    return decision.outcome;
  }

  /**
   * Records a message's handling that changes no stream (a refusal, answered rather than thrown
   * across services): its inbox mark and outbox messages in one statement. False when the
   * message was handled before (its first answer was written then).
   */
  async answer(context: HandleContext, outbox: readonly OutboxMessage[]): Promise<boolean> {
    const { inbox } = context;
    const stored: StoredResult = {
      streams: [],
      ...(inbox?.fingerprint === undefined ? {} : { fingerprint: inbox.fingerprint }),
    };
    try {
      await this.store.append({ type: '$answer', id: inbox?.messageId ?? uuidv7() }, [], {
        expectedVersion: 'any',
        metadata: context.metadata,
        outbox,
        ...(inbox
          ? { inbox: { consumer: inbox.consumer, messageId: inbox.messageId, result: stored } }
          : {}),
      });
      return true;
    } catch (error) {
      if (error instanceof AlreadyHandledError) return false;
      throw error;
    }
  }

  private replay(inbox: InboxContext, result: unknown): HandleAllResult {
    const stored = result as StoredResult | null;
    if (
      inbox.fingerprint !== undefined &&
      stored?.fingerprint !== undefined &&
      stored.fingerprint !== inbox.fingerprint
    ) {
      throw new IdempotencyKeyReusedError(inbox.consumer, inbox.messageId);
    }
    return { streams: stored?.streams ?? [], duplicate: true };
  }
}

function assertOnePerStream(keys: readonly string[]): void {
  if (new Set(keys).size !== keys.length)
    throw new RangeError(`one command per stream in a unit of work, got ${keys.join(', ')}`);
}
