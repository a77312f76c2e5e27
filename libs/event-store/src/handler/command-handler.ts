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
import { DomainError, type DomainEvent } from '@es/decider';
import { AlreadyHandledError, streamKey } from '@es/messaging';
import type { OutboxMessage } from '../outbox/outbox-message';
import { CommandsRefusedError, ConcurrencyError } from '../store/errors';
import type { PostgresEventStore } from '../store/event-store';
import { uuidv7 } from '../store/uuid';
import type { AggregateDefinition } from './aggregate';
import { AggregateCache } from './aggregate-cache';
import { AggregateLoader } from './aggregate-loader';
import {
  onStream,
  type AggregateCommand,
  type AppendPlan,
  type LoadedAggregate,
} from './on-stream';
import type { Decision, Refusal } from './decision';
import { StreamLocks } from './stream-locks';
import {
  inboxMark,
  replay,
  unitAppends,
  type HandleAllResult,
  type HandleContext,
  type HandleResult,
  type InboxContext,
  type StreamResult,
} from './unit-of-work';

export class CommandHandler {
  private readonly locks = new StreamLocks();
  private readonly cache: AggregateCache;
  private readonly loader: AggregateLoader;

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
    this.loader = new AggregateLoader(store, this.cache);
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
  load<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
    inbox?: Pick<InboxContext, 'consumer' | 'messageId'>,
  ): Promise<LoadedAggregate<S>> {
    return this.loader.load(definition, streamId, inbox);
  }

  /** The state to decide a command on: cached, assumed new, or loaded (aggregate-loader.ts). */
  loadForDecision<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
    inbox?: Pick<InboxContext, 'consumer' | 'messageId'>,
    options: { readonly assumeNew?: boolean } = {},
  ): Promise<LoadedAggregate<S>> {
    return this.loader.loadForDecision(definition, streamId, inbox, options);
  }

  /** The aggregate as it was at a version or a time, rebuilt from its events alone. */
  loadAt<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
    at: { readonly toVersion?: number; readonly asOf?: Date },
  ): Promise<LoadedAggregate<S>> {
    return this.loader.loadAt(definition, streamId, at);
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
    // A message whose mark records no stream was given up on, not handled (a discarded dead
    // letter): a duplicate that wrote nothing, and that nothing should be written for now.
    if (!stream && result.duplicate) return { streamId, version: 0, eventIds: [], duplicate: true };
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
    // The streams of follow-on commands (`follows`) are known only once decided. A plan that
    // reaches a stream not held lets every lock go and takes them all again, in the one sorted
    // order (taking one more while holding others could wait in a cycle), then plans again:
    // commands on that stream in this process then wait instead of conflicting (a payment's
    // capture and other payments of the same customer's account).
    let held = keys;
    let release = await this.locks.acquire(held);
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
          if (inbox && first) return replay(inbox, first.result);
          throw refusal;
        }
        const handled = plans.find((p) => p.handled)?.handled;
        if (inbox && handled) return replay(inbox, handled.result);
        const reached = plans.map((p) => streamKey(p.stream)).filter((k) => !held.includes(k));
        if (reached.length > 0) {
          release();
          held = [...held, ...reached];
          release = await this.locks.acquire(held);
          attempt--; // not a conflict: the same attempt, under every lock it needs
          continue;
        }
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
          if (error instanceof AlreadyHandledError && inbox) return replay(inbox, error.result);
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
    const { results, items } = unitAppends(plans, context);
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
  private async answer(context: HandleContext, outbox: readonly OutboxMessage[]): Promise<boolean> {
    const { inbox } = context;
    try {
      await this.store.append({ type: '$answer', id: inbox?.messageId ?? uuidv7() }, [], {
        expectedVersion: 'any',
        metadata: context.metadata,
        outbox,
        ...(inbox ? { inbox: inboxMark(inbox, []) } : {}),
      });
      return true;
    } catch (error) {
      if (error instanceof AlreadyHandledError) return false;
      throw error;
    }
  }
}

function assertOnePerStream(keys: readonly string[]): void {
  if (new Set(keys).size !== keys.length)
    throw new RangeError(`one command per stream in a unit of work, got ${keys.join(', ')}`);
}
