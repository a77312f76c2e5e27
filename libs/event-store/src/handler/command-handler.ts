// The command-handling loop, written once: load (snapshot + newer events, upcast) -> fold ->
// decide -> append events + outbox rows + inbox mark (+ snapshot) in ONE statement; on a
// concurrency conflict, reload and decide again, a bounded number of times. NestJS command
// handlers are thin adapters over handle().
import { fold, type DomainEvent } from '@es/decider';
import { AlreadyHandledError, ConcurrencyError } from '../store/errors';
import type { OutboxMessage, PostgresEventStore } from '../store/event-store';
import type { EventMetadata, RecordedEvent, StreamRef } from '../store/types';
import { uuidv7 } from '../store/uuid';
import type { AggregateDefinition } from './aggregate';

export interface LoadedAggregate<State> {
  readonly state: State;
  /** 0 when the stream does not exist. */
  readonly version: number;
  /** Whether a snapshot was used (and at which version). */
  readonly fromSnapshot?: number;
}

export interface HandleContext {
  readonly metadata: EventMetadata;
  /** Refuse (ConcurrencyError) unless the stream is at this version (HTTP If-Match); no retry then. */
  readonly expectedVersion?: number;
  /** Deduplicate: a (consumer, messageId) seen before returns its first result and writes nothing. */
  readonly inbox?: { readonly consumer: string; readonly messageId: string };
}

export interface HandleResult {
  readonly streamId: string;
  /** The stream's version after the command: the consistency token's version. */
  readonly version: number;
  readonly eventIds: readonly string[];
  /** True when this is the stored result of an earlier handling of the same message. */
  readonly duplicate: boolean;
}

export class CommandHandler {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly options: { readonly maxAttempts?: number } = {},
  ) {}

  async load<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
  ): Promise<LoadedAggregate<S>> {
    const stream: StreamRef = { type: definition.streamType, id: streamId };
    const { decider, snapshot } = definition;
    let state = decider.initialState();
    let version = 0;
    let fromSnapshot: number | undefined;
    if (snapshot) {
      const stored = await this.store.loadSnapshot(stream);
      if (stored?.schemaVersion === snapshot.schemaVersion) {
        state = snapshot.deserialize ? snapshot.deserialize(stored.state) : (stored.state as S);
        version = stored.streamVersion;
        fromSnapshot = version;
      }
    }
    const events = await this.store.readStream(stream, { afterVersion: version });
    state = fold(decider, state, events as readonly RecordedEvent[] as unknown as readonly E[]);
    return {
      state,
      version: events.at(-1)?.streamVersion ?? version,
      ...(fromSnapshot === undefined ? {} : { fromSnapshot }),
    };
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

  async handle<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
    command: C,
    context: HandleContext,
  ): Promise<HandleResult> {
    const { inbox } = context;
    if (inbox) {
      const earlier = await this.store.handled(inbox.consumer, inbox.messageId);
      if (earlier) return { ...(earlier.result as HandleResult), duplicate: true };
    }
    const maxAttempts = context.expectedVersion === undefined ? (this.options.maxAttempts ?? 5) : 1;
    for (let attempt = 1; ; attempt++) {
      const loaded = await this.load(definition, streamId);
      if (context.expectedVersion !== undefined && loaded.version !== context.expectedVersion) {
        throw new ConcurrencyError(
          { type: definition.streamType, id: streamId },
          context.expectedVersion,
          loaded.version,
        );
      }
      const events = definition.decider.decide(command, loaded.state);
      try {
        return await this.append(definition, streamId, loaded, events, context);
      } catch (error) {
        if (error instanceof AlreadyHandledError)
          return { ...(error.result as HandleResult), duplicate: true };
        if (error instanceof ConcurrencyError && attempt < maxAttempts) continue;
        throw error;
      }
    }
  }

  private async append<C, E extends DomainEvent, S>(
    definition: AggregateDefinition<C, E, S>,
    streamId: string,
    loaded: LoadedAggregate<S>,
    events: readonly E[],
    context: HandleContext,
  ): Promise<HandleResult> {
    const next = loaded.version + events.length;
    const { topic } = definition;
    const outbox: OutboxMessage[] = [
      ...(topic ? events.map((_, eventIndex) => ({ eventIndex, topic })) : []),
      ...(definition.messages?.(events, streamId) ?? []),
    ];
    const snapshot = definition.snapshot;
    const takeSnapshot =
      snapshot !== undefined &&
      events.length > 0 &&
      Math.floor(next / snapshot.every) > Math.floor(loaded.version / snapshot.every);
    const state = takeSnapshot ? fold(definition.decider, loaded.state, events) : undefined;
    // Ids are made here, not in the store, so the inbox row can record them in the same statement.
    const eventIds = events.map(() => uuidv7());
    const result = await this.store.append({ type: definition.streamType, id: streamId }, events, {
      expectedVersion: loaded.version,
      metadata: context.metadata,
      eventIds,
      outbox,
      ...(context.inbox
        ? {
            inbox: {
              ...context.inbox,
              result: { streamId, version: next, eventIds } satisfies Omit<
                HandleResult,
                'duplicate'
              >,
            },
          }
        : {}),
      ...(takeSnapshot
        ? {
            snapshot: {
              schemaVersion: snapshot.schemaVersion,
              state: snapshot.serialize ? snapshot.serialize(state as S) : state,
            },
          }
        : {}),
    });
    return {
      streamId,
      version: result.nextExpectedVersion,
      eventIds: result.events.map((e) => e.eventId),
      duplicate: false,
    };
  }
}
