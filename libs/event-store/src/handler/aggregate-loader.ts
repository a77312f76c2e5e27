// Loading an aggregate: its snapshot and the events after it in one query (with the inbox
// lookup riding on it), folded; the state last known to the handler (its cache) or the initial
// state of a stream assumed new, for deciding without a load; and the aggregate as it was at a
// version or a time (a temporal read, from its events alone).
import { fold, type DomainEvent } from '@es/decider';
import { streamKey } from '@es/messaging';
import type { PostgresEventStore } from '../store/event-store';
import type { RecordedEvent, StreamRef } from '../store/types';
import type { AggregateDefinition } from './aggregate';
import type { AggregateCache } from './aggregate-cache';
import type { LoadedAggregate } from './on-stream';
import type { InboxContext } from './unit-of-work';

export class AggregateLoader {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly cache: AggregateCache,
  ) {}

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
    at: { readonly toVersion?: number; readonly asOf?: Date },
  ): Promise<LoadedAggregate<S>> {
    const events = await this.store.readStream({ type: definition.streamType, id: streamId }, at);
    const state = fold(
      definition.decider,
      definition.decider.initialState(),
      events as readonly RecordedEvent[] as unknown as readonly E[],
    );
    return { state, version: events.at(-1)?.streamVersion ?? 0 };
  }
}
