// The stream browser (@es/http-api's getStream, docs/api.md, Streams): any stream of a type this
// service writes, its events with their metadata (upcast and opened, or as stored) and its
// aggregate's state folded from them, now, at a version or as of an instant. For operators;
// the events' personal fields are opened as the order's audit trail opens them.
import { Controller, Inject } from '@nestjs/common';
import { fold, type DomainEvent } from '@es/decider';
import type { PostgresEventStore, RecordedEvent } from '@es/event-store';
import { getStream, type ParamsOf, type QueryOf } from '@es/http-api';
import { ProblemError } from './http/problem.filter';
import { Input, Route } from './http/operation';
import { EVENT_STORE } from './event-sourcing.module';
import { REPUBLISH_STREAMS, type PublishedStream } from './republish';

/** A stream type with what folds its events: an aggregate's decider. */
type Browsable = PublishedStream & {
  readonly decider?: {
    initialState(): unknown;
    evolve(state: unknown, event: DomainEvent): unknown;
  };
};

/** An event as the HTTP API shows it (@es/http-api's recordedEventSchema). */
export const recordedEventView = (e: RecordedEvent) => ({
  eventId: e.eventId,
  type: e.type,
  schemaVersion: e.schemaVersion,
  streamVersion: e.streamVersion,
  globalPosition: e.globalPosition.toString(),
  recordedAt: e.recordedAt.toISOString(),
  data: e.data,
  metadata: e.metadata,
});

/** A state as JSON: Maps as objects, Sets as arrays, Dates as instants, bigints as text. */
function plain(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, v: unknown): unknown =>
      v instanceof Map
        ? Object.fromEntries(v as Map<string, unknown>)
        : v instanceof Set
          ? [...(v as Set<unknown>)]
          : typeof v === 'bigint'
            ? v.toString()
            : v,
    ),
  ) as unknown;
}

@Controller()
export class StreamsController {
  constructor(
    @Inject(EVENT_STORE) private readonly store: PostgresEventStore,
    @Inject(REPUBLISH_STREAMS) private readonly streams: readonly Browsable[],
  ) {}

  @Route(getStream)
  async get(
    @Input('params') { type, id }: ParamsOf<typeof getStream>,
    @Input('query') { asOf, atVersion, raw }: QueryOf<typeof getStream>,
  ) {
    const stream = this.streams.find((s) => s.streamType === type);
    if (!stream)
      throw new ProblemError({
        status: 404,
        code: 'UNKNOWN_STREAM_TYPE',
        detail: `this service writes no stream of type '${type}': its types are ${this.streams.map((s) => s.streamType).join(', ')}`,
      });
    const ref = { type, id };
    const at = {
      ...(atVersion !== undefined ? { toVersion: atVersion } : {}),
      ...(asOf !== undefined ? { asOf: new Date(asOf) } : {}),
    };
    const open = this.store.holdsPersonalData;
    const [events, shown] = await Promise.all([
      this.store.readStream(ref, { ...at, open }),
      raw === 'true' ? this.store.readStream(ref, { ...at, raw: true }) : undefined,
    ]);
    // None up to there: a stream that began later, or none at all.
    if (events.length === 0 && (await this.store.currentVersion(ref)) === 0)
      throw new ProblemError({ status: 404, detail: `no stream ${type}/${id} here` });
    const state = stream.decider
      ? fold(
          stream.decider,
          stream.decider.initialState(),
          events as readonly RecordedEvent[] as unknown as readonly DomainEvent[],
        )
      : null;
    return {
      streamType: type,
      streamId: id,
      version: events.at(-1)?.streamVersion ?? 0,
      raw: raw === 'true',
      events: (shown ?? events).map(recordedEventView),
      state: plain(state),
    };
  }
}
