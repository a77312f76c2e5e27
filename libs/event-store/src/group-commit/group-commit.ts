// Group commit: appends made while earlier ones are on their way to the server wait, and then go
// together, as one write with one Sync, which PostgreSQL runs as ONE implicit transaction (one
// commit, one WAL flush, one round trip) instead of one each. Under a saga's load on 2 cores
// the per-transaction cost (commit and its flush, the round trip's wake-ups on both sides) was
// more than half of PostgreSQL's time per append (docs/event-store.md). At low load nothing
// waits: an append finds a free slot and goes at the next turn of the event loop.
// A group is all or nothing in PostgreSQL's terms, but each append in it keeps its own
// outcome: when a statement of a group fails, nothing of the group was written; its append runs
// again on its own, and the others go together again (PostgresEventStore.runGroupUnits), so one
// append's conflict or duplicate costs the others a round trip, never their effect.

import { OverloadedError } from '../store/errors';

export interface GroupCommitOptions {
  /** Groups on their way to the server at once (2 by default); appends made meanwhile wait. */
  readonly maxInFlight?: number;
  /** Statements in one group at most (64 by default); more wait for the next group. */
  readonly maxStatements?: number;
  /**
   * Appends waiting for a group at most (10,000 by default): beyond, an append is refused at
   * once (OverloadedError) instead of joining a wait that grows without bound while PostgreSQL
   * is slow or away.
   */
  readonly maxQueued?: number;
}

export interface GroupUnit {
  /** How many statements the unit adds to its group. */
  readonly statements: number;
}

/** Queues units and hands them to `run` in groups, at most `maxInFlight` groups at a time. */
export class GroupCommit<U extends GroupUnit> {
  private readonly queue: U[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxInFlight: number;
  private readonly maxStatements: number;
  private readonly maxQueued: number;

  constructor(
    options: GroupCommitOptions,
    /** Settles every unit of the group (each its own outcome); never rejects. */
    private readonly run: (group: readonly U[]) => Promise<void>,
  ) {
    this.maxInFlight = positive(options.maxInFlight ?? 2, 'maxInFlight');
    this.maxStatements = positive(options.maxStatements ?? 64, 'maxStatements');
    this.maxQueued = positive(options.maxQueued ?? 10_000, 'maxQueued');
  }

  /** Throws OverloadedError, queueing nothing, when maxQueued units already wait. */
  submit(unit: U): void {
    if (this.queue.length >= this.maxQueued)
      throw new OverloadedError('the group commit queue', this.maxQueued);
    this.queue.push(unit);
    if (this.inFlight < this.maxInFlight && !this.scheduled) {
      // The next turn of the event loop: what else is submitted in this one joins the group
      // (a consumer's batch of messages decided together).
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const group: U[] = [];
      let statements = 0;
      for (const next of this.queue) {
        if (group.length > 0 && statements + next.statements > this.maxStatements) break;
        group.push(next);
        statements += next.statements;
      }
      this.queue.splice(0, group.length);
      this.inFlight++;
      void this.run(group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }
}

function positive(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1)
    throw new RangeError(`groupCommit.${name} must be a positive integer, got ${value}`);
  return value;
}
