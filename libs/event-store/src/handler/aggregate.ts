import type { Decider, DomainEvent } from '@es/decider';
import type { StreamSummary } from '../append/prepare-append';
import type { OutboxMessage } from '../outbox/outbox-message';

/** How the store persists one aggregate type: its stream type, snapshots and what it publishes. */
export interface AggregateDefinition<Command, Event extends DomainEvent, State> {
  readonly streamType: string;
  readonly decider: Decider<Command, Event, State>;
  /** Snapshot after every `every` events; a stored snapshot of another schemaVersion is ignored. */
  readonly snapshot?: {
    readonly every: number;
    readonly schemaVersion: number;
    /** State to JSON and back; identity by default (state must then be plain JSON). */
    readonly serialize?: (state: State) => unknown;
    readonly deserialize?: (json: unknown) => State;
  };
  /**
   * The stream's summary row after each append that writes events (stream_summaries): typed,
   * indexed columns for what is queried across streams (a saga's state, step and deadline).
   */
  readonly summary?: (state: State) => StreamSummary;
  /** Publish every event of this aggregate to this topic, keyed by stream id. */
  readonly topic?: string;
  /** Further messages to publish with the events (integration events, saga commands). */
  readonly messages?: (events: readonly Event[], streamId: string) => readonly OutboxMessage[];
}
