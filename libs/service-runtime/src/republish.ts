// The event store as the source of truth, in practice (docs/api.md, Republish): a service's
// events published again to their topics, as the relay published them the first time (the same
// key, the event id as message id, the upcast envelope: event-store's republish.ts), so a
// consumer that handled one dedupes it and one that never saw it handles it. One stream's range,
// or the whole store in commit order.
//
// A republish runs in the background of the instance that was asked: it records each topic's
// end offsets first (every message it writes lands after them), writes the messages to the
// outbox in batches (its progress and heartbeat in `republishes` after each), then waits until
// the relay's published mark has passed every transaction it wrote: `completed` means every
// message of it is in Kafka. A republish that put a topic back whole (the whole store, or every
// stream type of that topic) then writes the topic's marker (@es/messaging republish-markers):
// from which offsets to which its copies lie, so a projection rebuild can start there when the
// topic lost its first events. An instance that stops mid-way leaves its republish `interrupted`
// (no heartbeat for 30 s): starting it again is safe, what was published is deduplicated.
import { Controller, Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import {
  republishAll,
  republishStream,
  uuidv7,
  type PostgresEventStore,
  type RepublishOptions,
} from '@es/event-store';
import type { BodyOf, ParamsOf } from '@es/http-api';
import { getRepublish, startRepublish } from '@es/http-api';
import { publishRepublishMarkers, REPUBLISH_ID_HEADER, type RepublishMarker } from '@es/messaging';
import { KAFKA, PG_POOL } from './infrastructure';
import { PLATFORM_OPTIONS, type PlatformOptions } from './platform.module';
import { CommandContext, type CommandRequest } from './http/request-context';
import { NotFound, ProblemError } from './http/problem.filter';
import { Input, Route } from './http/operation';

export type RepublishScope = BodyOf<typeof startRepublish>;
export type RepublishStatus = 'running' | 'publishing' | 'completed' | 'failed' | 'interrupted';

/** Per topic, per partition, an offset (the end offsets a republish began at). */
type Offsets = Readonly<Record<string, Readonly<Record<string, string>>>>;

export interface RepublishView {
  readonly id: string;
  readonly scope: RepublishScope;
  readonly status: RepublishStatus;
  readonly events: number;
  readonly total: number | null;
  readonly fromOffsets: Offsets;
  readonly requestedBy: string | null;
  readonly startedAt: string;
  readonly completedAt: string | null;
  readonly error: string | null;
}

/** A stream type this service writes, and the topic its events go to (none: not published). */
export interface PublishedStream {
  readonly streamType: string;
  readonly topic?: string;
}

export const REPUBLISH_STREAMS = Symbol('REPUBLISH_STREAMS');
export const REPUBLISH_EVENT_STORE = Symbol('REPUBLISH_EVENT_STORE');

/** A republish whose heartbeat is older than this is reported interrupted. */
const STALE_MS = 30_000;
const HEARTBEAT_MS = 5_000;

interface Row {
  id: string;
  scope: RepublishScope;
  status: RepublishStatus;
  events: number;
  total: number | null;
  from_offsets: Record<string, Record<string, string>>;
  requested_by: string | null;
  started_at: Date;
  completed_at: Date | null;
  error: string | null;
  stale: boolean;
}

/** A row as `view` reads it: `stale` when its heartbeat stopped. */
const COLUMNS = `id, scope, status, events, total, from_offsets, requested_by, started_at,
  completed_at, error, heartbeat_at < now() - make_interval(secs => ${STALE_MS / 1000}) AS stale`;

function view(row: Row): RepublishView {
  const live = row.status === 'running' || row.status === 'publishing';
  return {
    id: row.id,
    scope: row.scope,
    status: live && row.stale ? 'interrupted' : row.status,
    events: row.events,
    total: row.total,
    fromOffsets: row.from_offsets,
    requestedBy: row.requested_by,
    startedAt: row.started_at.toISOString(),
    completedAt: row.completed_at?.toISOString() ?? null,
    error: row.error,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

@Injectable()
export class Republisher implements OnModuleDestroy {
  private readonly logger = new Logger('republish');
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  private readonly topics: ReadonlyMap<string, string>;

  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(KAFKA) private readonly kafka: Kafka,
    @Inject(REPUBLISH_EVENT_STORE) private readonly store: PostgresEventStore,
    @Inject(REPUBLISH_STREAMS) streams: readonly PublishedStream[],
    @Inject(PLATFORM_OPTIONS) private readonly platform: PlatformOptions,
  ) {
    this.topics = new Map(
      streams.flatMap((s) => (s.topic ? [[s.streamType, s.topic] as const] : [])),
    );
  }

  async get(id: string): Promise<RepublishView | undefined> {
    const { rows } = await this.pool.query<Row>(
      `SELECT ${COLUMNS} FROM republishes WHERE id = $1`,
      [id],
    );
    return rows[0] ? view(rows[0]) : undefined;
  }

  /** Starts a republish in the background; the record as it begins. */
  async start(scope: RepublishScope, requestedBy: string | null): Promise<RepublishView> {
    const topics = scope.streamType
      ? [this.topics.get(scope.streamType)].flatMap((t) => (t ? [t] : []))
      : [...new Set(this.topics.values())];
    if (scope.streamType && topics.length === 0)
      throw new ProblemError({
        status: 422,
        code: 'UNKNOWN_STREAM_TYPE',
        detail: `${this.platform.serviceName} publishes no events of stream type ${scope.streamType}; it publishes ${[...this.topics.keys()].join(', ')}`,
      });
    const fromOffsets = await this.endOffsets(topics);
    const id = uuidv7();
    const { rows } = await this.pool.query<Row>(
      `INSERT INTO republishes (id, scope, status, from_offsets, requested_by)
       VALUES ($1, $2, 'running', $3, $4)
       RETURNING ${COLUMNS}`,
      [id, JSON.stringify(scope), JSON.stringify(fromOffsets), requestedBy],
    );
    const started = rows[0];
    if (!started) throw new Error('the republish row was not written');
    const job = this.run(id, scope, fromOffsets).finally(() => this.running.delete(job));
    this.running.add(job);
    return view(started);
  }

  async onModuleDestroy(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running]);
  }

  /** Each topic's partitions' end offsets now; Kafka away is a 503 to retry. */
  private async endOffsets(
    topics: readonly string[],
  ): Promise<Record<string, Record<string, string>>> {
    const admin = this.kafka.admin();
    try {
      await admin.connect();
      const offsets: Record<string, Record<string, string>> = {};
      for (const topic of topics)
        offsets[topic] = Object.fromEntries(
          (await admin.fetchTopicOffsets(topic)).map((p) => [String(p.partition), p.high]),
        );
      return offsets;
    } catch (error) {
      throw new ProblemError({
        status: 503,
        code: 'ENGINE_UNAVAILABLE',
        detail: `Kafka could not be asked for the topics' offsets (${error instanceof Error ? error.message : String(error)}); retry shortly`,
        headers: { 'Retry-After': '1' },
      });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  private async update(id: string, fields: string, values: unknown[] = []): Promise<void> {
    await this.pool.query(`UPDATE republishes SET ${fields}, heartbeat_at = now() WHERE id = $1`, [
      id,
      ...values,
    ]);
  }

  private async run(id: string, scope: RepublishScope, fromOffsets: Offsets): Promise<void> {
    try {
      const options: RepublishOptions = {
        // Only the scope's stream type, when it names one.
        topicOf: (streamType) =>
          scope.streamType && streamType !== scope.streamType
            ? undefined
            : this.topics.get(streamType),
        metadata: { correlationId: id, causationId: id },
        headers: { [REPUBLISH_ID_HEADER]: id },
      };
      let written = 0;
      if (scope.streamType && scope.streamId) {
        written = await republishStream(
          this.store,
          { type: scope.streamType, id: scope.streamId },
          {
            ...(scope.fromVersion === undefined ? {} : { fromVersion: scope.fromVersion }),
            ...(scope.toVersion === undefined ? {} : { toVersion: scope.toVersion }),
          },
          options,
        );
      } else {
        const types = scope.streamType ? [scope.streamType] : [...this.topics.keys()];
        const { rows } = await this.pool.query<{ n: string }>(
          'SELECT count(*) AS n FROM events WHERE stream_type = ANY($1)',
          [types],
        );
        await this.update(id, 'total = $2', [Number(rows[0]?.n ?? 0)]);
        let progress = Promise.resolve();
        const result = await republishAll(this.store, {
          ...options,
          onBatch: (_checkpoint, total) => {
            if (this.stopping) throw new Error('the service is stopping');
            progress = progress.then(() => this.update(id, 'events = $2', [total]));
          },
        });
        await progress;
        written = result.events;
      }
      await this.update(id, "status = 'publishing', events = $2", [written]);
      await this.published(id);
      await this.mark(id, scope, fromOffsets);
      await this.update(id, "status = 'completed', completed_at = now()");
      this.logger.log(`republish ${id} completed: ${written} messages`);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.logger.error(`republish ${id} failed: ${message}`);
      await this.update(id, "status = 'failed', error = $2", [message]).catch(() => undefined);
    }
  }

  /**
   * The markers of the topics this republish put back whole: every stream type published to
   * the topic was in its scope, and it was no single stream's range.
   */
  private async mark(id: string, scope: RepublishScope, fromOffsets: Offsets): Promise<void> {
    if (scope.streamId !== undefined) return;
    const whole = [...new Set(this.topics.values())].filter((topic) =>
      [...this.topics].every(
        ([type, t]) => t !== topic || !scope.streamType || type === scope.streamType,
      ),
    );
    if (whole.length === 0) return;
    const to = await this.endOffsets(whole);
    const completedAt = new Date().toISOString();
    const markers: RepublishMarker[] = whole.flatMap((topic) => {
      const from = fromOffsets[topic];
      const end = to[topic];
      return from && end
        ? [
            {
              topic,
              republishId: id,
              service: this.platform.serviceName,
              from,
              to: end,
              completedAt,
            },
          ]
        : [];
    });
    await publishRepublishMarkers(this.kafka, markers);
  }

  /**
   * Until the relay's published mark is past every outbox row this republish wrote (all of them
   * committed by now), the heartbeat kept meanwhile. Its own rows, not a snapshot's xmax: the
   * mark need not pass transactions that wrote no row (the heartbeats among them), and on an
   * idle store it would not.
   */
  private async published(id: string): Promise<void> {
    let beat = Date.now();
    for (;;) {
      if (this.stopping) throw new Error('the service is stopping');
      const { rows } = await this.pool.query<{ done: boolean }>(
        `SELECT NOT EXISTS (
           SELECT 1 FROM outbox o, outbox_relay_state s
           WHERE s.id = 1 AND (o.transaction_id, o.id) > (s.published_transaction_id, s.published_id)
             AND o.headers->>'${REPUBLISH_ID_HEADER}' = $1) AS done`,
        [id],
      );
      if (rows[0]?.done) return;
      if (Date.now() - beat > HEARTBEAT_MS) {
        await this.update(id, 'status = status');
        beat = Date.now();
      }
      await sleep(250);
    }
  }
}

/** The republish operations (@es/http-api's republishOperations) of a service with a store. */
@Controller()
export class RepublishController {
  constructor(@Inject(Republisher) private readonly republisher: Republisher) {}

  @Route(startRepublish)
  start(
    @Input('body') scope: RepublishScope,
    @CommandContext() request: CommandRequest,
  ): Promise<RepublishView> {
    return this.republisher.start(scope, request.metadata.actor ?? null);
  }

  @Route(getRepublish)
  async get(@Input('params') { id }: ParamsOf<typeof getRepublish>): Promise<RepublishView> {
    const found = await this.republisher.get(id);
    if (!found) throw new NotFound('republish', id);
    return found;
  }
}
