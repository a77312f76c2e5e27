import type { ReplyResult, SagaPhase } from '@es/saga-contracts';

/** What the saga receives: its trigger, a participant's reply, the clock's tick, an operator. */
export type SagaMessage<Data> =
  | {
      readonly type: 'StartSaga';
      readonly sagaId: string;
      readonly data: Data;
      readonly at: string;
      /** The saga it starts after (its definition's `startsAfter`) has not ended: wait for it. */
      readonly held?: boolean;
    }
  /** The saga this one waited for has ended: take the first step (a saga not waiting ignores it). */
  | { readonly type: 'ReleaseSaga'; readonly at: string }
  | {
      readonly type: 'HandleReply';
      /** The command the reply answers (its type). */
      readonly command: string;
      /**
       * The message id of the sending it answers (the reply's causation id): a reply is taken
       * only when it answers a sending of the awaited step; null answers none.
       */
      readonly causationId: string | null;
      readonly result: ReplyResult;
      readonly at: string;
    }
  /** Sent when a stored deadline may have passed; a deadline not yet due changes nothing. */
  | { readonly type: 'CheckDeadline'; readonly at: string }
  /** An operator resumes a parked saga: its step is tried again with fresh attempts. */
  | { readonly type: 'ResumeSaga'; readonly actor: string | null; readonly at: string };

/** Where a running saga is. `deadlineAt` is also what the orchestrator's deadline scan queries. */
export interface SagaProgress<Data> {
  readonly sagaId: string;
  readonly data: Data;
  readonly startedAt: string;
  readonly step: number;
  readonly phase: SagaPhase;
  readonly attempt: number;
  /** Commands sent so far: numbers the next message id. */
  readonly sent: number;
  /** The command whose reply the saga waits for; null between steps or while waiting to retry. */
  readonly awaiting: string | null;
  /**
   * The message ids of the awaited sendings of this step and phase (each attempt, each re-send
   * after a deadline): a reply to any of them is as good as another; to none, it is ignored.
   */
  readonly answering: readonly string[];
  /** When the wait (for a reply, or before re-sending) ends; null when nothing waits. */
  readonly deadlineAt: string | null;
  readonly timer: 'reply' | 'retry' | null;
}

interface Ended<Data> {
  readonly sagaId: string;
  readonly data: Data;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly sent: number;
}

export type SagaState<Data> =
  | { readonly status: 'NONE' }
  /** Started, and held until the saga of type `waitingFor` with the same id has ended. */
  | ({ readonly status: 'WAITING'; readonly waitingFor: string } & SagaProgress<Data>)
  | ({ readonly status: 'RUNNING' } & SagaProgress<Data>)
  | ({ readonly status: 'COMPENSATING'; readonly reason: string } & SagaProgress<Data>)
  | ({
      readonly status: 'PARKED';
      /** Why it was compensating, when it parked while compensating. */
      readonly reason: string | null;
      readonly problem: string;
    } & SagaProgress<Data>)
  | ({ readonly status: 'COMPLETED' } & Ended<Data>)
  | ({ readonly status: 'COMPENSATED'; readonly reason: string } & Ended<Data>);

export type ActiveSaga<Data> = Extract<SagaState<Data>, { step: number }>;
