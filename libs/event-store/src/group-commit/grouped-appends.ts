// Group commit's appends (group-commit.ts queues them): a group's statements go to the server
// in one write with one Sync, one transaction, and each append keeps its own outcome. When a
// statement of a group fails, nothing of the group was written: its append runs again on its
// own, for its own outcome, and the appends before and after it go together again.
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  isSpanContextValid,
  trace,
  type Context,
} from '@opentelemetry/api';
import type {
  AppendItem,
  AppendResult,
  PreparedAppend,
  VersionReader,
} from '../append/prepare-append';
import {
  BatchStatementError,
  leavesConnectionUsable,
  type TextRow,
  type TextRowsItem,
} from '../pg/text-rows';
import { streamKey } from '@es/messaging';
import { GroupCommit, type GroupCommitOptions, type GroupUnit } from './group-commit';

/** An append (or appendAll) waiting for its group. */
interface PendingAppend extends GroupUnit {
  readonly items: readonly AppendItem[];
  readonly prepared: readonly PreparedAppend[];
  /** The trace context it was made in: its own queries (a rerun, a conflict's read) go there. */
  readonly context: Context;
  resolve(results: AppendResult[]): void;
  reject(error: unknown): void;
}

/** Runs prepared appends alone: one round trip, their errors as append's. */
export type RunAlone = (
  items: readonly AppendItem[],
  prepared: readonly PreparedAppend[],
) => Promise<AppendResult[]>;

const tracer = trace.getTracer('@es/event-store');

export class GroupedAppends {
  private readonly queue: GroupCommit<PendingAppend>;

  constructor(
    options: GroupCommitOptions,
    /** Sends statements in one round trip and one transaction, on a connection of the pool. */
    private readonly send: (items: readonly TextRowsItem[]) => Promise<TextRow[][]>,
    private readonly reader: VersionReader,
    private readonly runAlone: RunAlone,
  ) {
    this.queue = new GroupCommit(options, (units) => this.runGroup(units));
  }

  /** Queues the appends (already checked) for the next group. */
  submit(
    items: readonly AppendItem[],
    prepared: readonly PreparedAppend[],
  ): Promise<AppendResult[]> {
    return new Promise((resolve, reject) => {
      this.queue.submit({
        items,
        prepared,
        statements: prepared.length,
        context: context.active(),
        resolve,
        reject,
      });
    });
  }

  /** One group: every statement in one round trip; each unit settled with its own outcome. */
  private async runGroup(units: readonly PendingAppend[]): Promise<void> {
    try {
      await this.runUnits(units);
    } catch (error) {
      // Not expected (every path settles its units): no unit is left waiting. A settled
      // promise ignores a later reject.
      for (const unit of units) unit.reject(error);
    }
  }

  /** A unit on its own, in the trace context of whoever made it (its spans are theirs). */
  private settle(unit: PendingAppend): Promise<void> {
    return context.with(unit.context, async () => {
      try {
        unit.resolve(await this.runAlone(unit.items, unit.prepared));
      } catch (error) {
        unit.reject(error);
      }
    });
  }

  private async runUnits(units: readonly PendingAppend[]): Promise<void> {
    const [only] = units;
    if (!only) return;
    if (units.length === 1) return this.settle(only);
    // In stream-key order, as the command handler orders a unit's streams (a stable sort: the
    // appends of one stream keep theirs): two processes' groups over the same streams then
    // wait on each other's rows in one order, never in a cycle.
    const slots = units.map((unit, u) => ({
      unit,
      statements: unit.prepared.map((prepared) => ({
        u,
        prepared,
        key: streamKey(prepared.stream),
        rows: [] as TextRow[],
      })),
    }));
    const order = slots
      .flatMap((slot) => slot.statements)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    let rows: TextRow[][];
    try {
      rows = await this.inGroupSpan(units, order.length, () =>
        this.send(order.map((statement) => statement.prepared)),
      );
    } catch (error) {
      const cause = error instanceof BatchStatementError ? error.error : error;
      // The connection failed: whether the group committed is not known, for any of its units.
      if (!leavesConnectionUsable(cause)) {
        for (const unit of units) unit.reject(cause);
        return;
      }
      // A statement of the group failed, so nothing of it was written. Its unit runs on its
      // own, for its own outcome (the conflict, the duplicate, or the effect after all); the
      // units before it and after it go together again. Submission order is kept.
      const culprit = error instanceof BatchStatementError ? order[error.index]?.u : undefined;
      if (culprit === undefined) {
        for (const unit of units) await this.settle(unit);
        return;
      }
      await this.runUnits(units.slice(0, culprit));
      await this.settle(units[culprit] ?? only);
      await this.runUnits(units.slice(culprit + 1));
      return;
    }
    order.forEach((statement, k) => {
      statement.rows = rows[k] ?? [];
    });
    await Promise.all(
      slots.map(({ unit, statements }) =>
        context.with(unit.context, async () => {
          try {
            unit.resolve(
              await Promise.all(statements.map((st) => st.prepared.finish(st.rows, this.reader))),
            );
          } catch (error) {
            unit.reject(error); // its own conflict: no rows, nothing of it written
          }
        }),
      ),
    );
  }

  /**
   * A group's round trip belongs to no one append's trace: it runs under a span of its own,
   * outside whatever context its first append was made in, linked to every append's span.
   */
  private inGroupSpan<T>(
    units: readonly PendingAppend[],
    statements: number,
    work: () => Promise<T>,
  ): Promise<T> {
    const links = units.flatMap((unit) => {
      const spanContext = trace.getSpanContext(unit.context);
      return spanContext && isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
    });
    return context.with(ROOT_CONTEXT, () =>
      tracer.startActiveSpan(
        'event_store group commit',
        {
          kind: SpanKind.INTERNAL,
          links,
          attributes: {
            'event_store.group.appends': units.length,
            'event_store.group.statements': statements,
          },
        },
        async (span) => {
          try {
            return await work();
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
            throw error;
          } finally {
            span.end();
          }
        },
      ),
    );
  }
}
