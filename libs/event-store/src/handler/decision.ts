// A decision with an outcome: the commands a request calls for (appended together, as one unit
// of work), the outcome they earn, what a refusal answers instead, and what a message handled
// before answers. Services state their decisions this way; the command handler carries them out
// (CommandHandler.carryOut), and a saga participant maps the outcome to its typed reply, which
// is written in the append of the effect that earns it (@es/saga-participant).
import type { DomainError } from '@es/decider';
import type { StreamRef } from '../store/types';
import type { AggregateCommand } from './on-stream';

/** A refused command of a unit of work, with its stream. */
export interface Refusal {
  readonly stream: StreamRef;
  readonly error: DomainError;
}

export interface Decision<O> {
  /** Appended together, or nothing is; none: the outcome alone is recorded (with the inbox mark). */
  readonly commands: readonly AggregateCommand[];
  readonly outcome: O;
  /**
   * What the commands' refusal answers: another decision (a decline recorded as a fact, or an
   * answer with no commands), or undefined: the refusal is an error, thrown.
   */
  readonly refused?: (
    refusals: readonly Refusal[],
  ) => Decision<O> | undefined | Promise<Decision<O> | undefined>;
  /** What a message handled before answers (its effect and messages were written then). */
  readonly replayed?: () => Promise<O>;
}

/** An answer that changes no stream, recorded as handled (with its messages) when it is a message's. */
export const answer = <O>(outcome: O): Decision<O> => ({ commands: [], outcome });

/** A refusal answered, not thrown: the first refused command's error, as an outcome. */
export const answerRefusal =
  <O>(outcome: (refusal: Refusal) => O) =>
  (refusals: readonly Refusal[]): Decision<O> | undefined => {
    const [first] = refusals;
    return first && answer(outcome(first));
  };

/** The same decision with its outcomes (and those of its refusals and replays) mapped. */
export function mapDecision<O, R>(decision: Decision<O>, map: (outcome: O) => R): Decision<R> {
  const { refused, replayed } = decision;
  return {
    commands: decision.commands,
    outcome: map(decision.outcome),
    ...(refused
      ? {
          refused: async (refusals: readonly Refusal[]) => {
            const next = await refused(refusals);
            return next && mapDecision(next, map);
          },
        }
      : {}),
    ...(replayed ? { replayed: async () => map(await replayed()) } : {}),
  };
}
