// A command bound to its aggregate and stream (`onStream`): how the command handler decides it
// on the stream's state (cached, assumed new, or loaded) and what its decision appends: the
// events, the messages to publish, a snapshot when one is due, and any commands on other
// streams that follow from the decision in the same unit of work.
import { DomainError, fold, type DomainEvent } from '@es/decider';
import type { StreamSummary } from '../append/prepare-append';
import type { OutboxMessage } from '../outbox/outbox-message';
import { snapshotDue } from '../snapshots/snapshots';
import { ConcurrencyError } from '../store/errors';
import type { StreamRef } from '../store/types';
import type { AggregateDefinition } from './aggregate';
import type { CommandHandler } from './command-handler';
import type { InboxContext } from './unit-of-work';

export interface LoadedAggregate<State> {
  readonly state: State;
  /** 0 when the stream does not exist. */
  readonly version: number;
  /** Whether a snapshot was used (and at which version). */
  readonly fromSnapshot?: number;
  /** Loaded with an inbox entry that was handled before: its first result. */
  readonly handled?: { readonly result: unknown };
  /** Taken from the handler's cache, not read: the append's version check is its proof. */
  readonly cached?: boolean;
}

/** One stream's share of a unit of work, decided on the state just loaded. */
export interface AppendPlan {
  readonly stream: StreamRef;
  readonly loadedVersion: number;
  readonly events: readonly DomainEvent[];
  readonly outbox: readonly OutboxMessage[];
  readonly snapshot?: { readonly schemaVersion: number; readonly state: unknown };
  readonly summary?: StreamSummary;
  /** The unit of work's message was handled before (found with this load): nothing to decide. */
  readonly handled?: { readonly result: unknown };
  /** The stream once the append succeeds, for the handler's cache. */
  readonly after?: {
    readonly definition: object;
    readonly version: number;
    readonly state: unknown;
  };
  /** Commands on other streams that this decision calls for, decided in the same unit of work. */
  readonly follows?: readonly AggregateCommand[];
}

/** A command bound to its aggregate and stream; build it with `onStream`. */
export interface AggregateCommand {
  readonly stream: StreamRef;
  /** The command's type, for metrics (`commands_total`). */
  readonly name?: string;
  /** Refuse unless the stream is at this version (no retry then). */
  readonly expectedVersion?: number;
  /**
   * Loads the aggregate and decides; throws the decider's DomainError when refused. Given the
   * unit of work's inbox entry, the load also looks it up, and a handled message is not decided.
   */
  plan(handler: CommandHandler, inbox?: InboxContext, retry?: boolean): Promise<AppendPlan>;
}

export interface OnStreamOptions<E, S> {
  readonly expectedVersion?: number;
  /**
   * The stream is expected not to exist yet (a new order, saga or payment): decided on the
   * initial state without a load, like a cached state. If it exists, the append conflicts and
   * the retry loads it; a refusal is decided again on a fresh load.
   */
  readonly assumeNew?: boolean;
  /**
   * Commands on other streams that follow from this decision (given the state it was decided
   * on and its events): a payment's capture debits its customer's account. They are decided and
   * appended in the same unit of work, and decided again with it after a conflict.
   */
  readonly follows?: (state: S, events: readonly E[]) => readonly AggregateCommand[];
}

export function onStream<C, E extends DomainEvent, S>(
  definition: AggregateDefinition<C, E, S>,
  streamId: string,
  command: C,
  options: OnStreamOptions<E, S> = {},
): AggregateCommand {
  const stream: StreamRef = { type: definition.streamType, id: streamId };
  const type = (command as { type?: unknown }).type;
  return {
    stream,
    ...(typeof type === 'string' ? { name: type } : {}),
    ...(options.expectedVersion === undefined ? {} : { expectedVersion: options.expectedVersion }),
    plan: async (handler, inbox, retry) => {
      let loaded = await handler.loadForDecision(definition, streamId, inbox, {
        assumeNew: options.assumeNew === true && retry !== true,
      });
      // A cached state may be behind another process: what it refuses is decided again on a
      // fresh load (which also looks the message up) before it is believed. What it accepts is
      // checked by the append's expected version.
      const fresh = () => handler.load(definition, streamId, inbox);
      for (;;) {
        if (loaded.handled)
          return {
            stream,
            loadedVersion: loaded.version,
            events: [],
            outbox: [],
            handled: loaded.handled,
          };
        if (options.expectedVersion !== undefined && loaded.version !== options.expectedVersion) {
          if (loaded.cached) {
            loaded = await fresh();
            continue;
          }
          throw new ConcurrencyError(stream, options.expectedVersion, loaded.version);
        }
        let events: readonly E[];
        try {
          events = definition.decider.decide(command, loaded.state);
        } catch (error) {
          if (loaded.cached && error instanceof DomainError) {
            loaded = await fresh();
            continue;
          }
          throw error;
        }
        const follows = options.follows?.(loaded.state, events) ?? [];
        return {
          stream,
          loadedVersion: loaded.version,
          ...planAppend(definition, streamId, loaded, events),
          ...(follows.length > 0 ? { follows } : {}),
        };
      }
    },
  };
}

function planAppend<C, E extends DomainEvent, S>(
  definition: AggregateDefinition<C, E, S>,
  streamId: string,
  loaded: LoadedAggregate<S>,
  events: readonly E[],
): Pick<AppendPlan, 'events' | 'outbox' | 'snapshot' | 'summary' | 'after'> {
  const { topic, snapshot } = definition;
  const outbox: OutboxMessage[] = [
    ...(topic ? events.map((_, eventIndex) => ({ eventIndex, topic })) : []),
    ...(definition.messages?.(events, streamId) ?? []),
  ];
  const next = loaded.version + events.length;
  const state = fold(definition.decider, loaded.state, events);
  const after = { definition, version: next, state };
  const summary =
    definition.summary && events.length > 0 ? { summary: definition.summary(state) } : {};
  if (!snapshot || !snapshotDue(snapshot.every, loaded.version, next))
    return { events, outbox, after, ...summary };
  return {
    events,
    outbox,
    after,
    ...summary,
    snapshot: {
      schemaVersion: snapshot.schemaVersion,
      state: snapshot.serialize ? snapshot.serialize(state) : state,
    },
  };
}
