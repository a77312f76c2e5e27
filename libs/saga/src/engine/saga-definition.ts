// A saga reads as its table of steps (docs/decisions.md, The order saga): each step names its participant, the
// command that performs it and the command that undoes it. The engine (saga.decider.ts) derives
// the rest: the pivot is the first step that cannot be undone; before it a failure compensates
// the steps done, in reverse; past it every step must succeed, so it is retried, then parked.
// A trigger that cannot be undone is itself the pivot: every step of such a saga must succeed
// (the order cancellation: a customer's cancellation is not taken back because a refund failed).
import type { z } from '@es/schema';

/** A command to a participant as it travels: its topic, type and contract version, and data. */
export interface SagaCommand {
  readonly topic: string;
  readonly type: string;
  readonly version: number;
  readonly data: Readonly<Record<string, unknown>>;
}

type CommandSchema = z.ZodObject<{
  type: z.ZodLiteral<string>;
  version: z.ZodLiteral<number>;
  data: z.ZodType;
}>;

/** A command to a participant, its data checked against the participant's contract. */
export function commandTo<S extends CommandSchema>(
  topic: string,
  schema: S,
  data: z.input<S>['data'] & Record<string, unknown>,
): SagaCommand {
  return { topic, type: schema.shape.type.value, version: schema.shape.version.value, data };
}

export interface StepDefinition<Data> {
  readonly name: string;
  /** The context that performs the step (for people and metrics). */
  readonly participant: string;
  /** What performs the step; absent for a step done before the saga starts (its trigger). */
  readonly invoke?: (data: Data) => SagaCommand;
  /** What undoes the step once done; `reason` says why the saga is compensating. */
  readonly compensation?: (data: Data, reason: string) => SagaCommand;
  /** Past the pivot: cannot fail the saga, so it is retried until it succeeds (or parked). */
  readonly retriable?: boolean;
  /** How long to wait for this step's reply; the definition's default otherwise. */
  readonly deadlineMs?: number;
}

export interface SagaDefinition<Data> {
  /** The saga's stream type, e.g. `order-saga`. */
  readonly type: string;
  readonly steps: readonly StepDefinition<Data>[];
  /** How long a step waits for its reply before it counts as failed (compensating) or is re-sent. */
  readonly deadlineMs: number;
  /** Attempts of a step that must succeed (a compensation, or a step past the pivot) before parking. */
  readonly maxAttempts: number;
  /** Wait before re-sending after a failure reply: backoffMs × 2^(attempt − 1), at most 60 s. */
  readonly backoffMs: number;
  /**
   * How many times a step that can be undone is sent before a missed deadline compensates it
   * (1 by default). More than one gives a participant that is restarting (its predecessor's
   * group session still running out) the time to answer: the re-sent command is the same
   * idempotent request, and an answer to either sending counts.
   */
  readonly sendsBeforeCompensating?: number;
  /**
   * The type of a saga with the same id that must have completed before this one takes a step:
   * an instance started before then is held (WAITING) until it has, so two sagas never command
   * the same participants for one order at once. While that saga is PARKED this one waits
   * with it; resuming that one resumes both.
   */
  readonly startsAfter?: string;
}

export type StepKind = 'trigger' | 'compensatable' | 'pivot' | 'retriable';

export class SagaDefinitionError extends Error {
  override name = 'SagaDefinitionError';
}

/** Each step's kind; throws when the table is not a valid saga (checked once, at definition). */
export function stepKinds<Data>(definition: SagaDefinition<Data>): readonly StepKind[] {
  const kinds = definition.steps.map((step, i): StepKind => {
    if (!step.invoke) {
      if (i !== 0)
        throw new SagaDefinitionError(`step ${step.name}: only the first step may have no command`);
      return 'trigger';
    }
    if (step.retriable) {
      if (step.compensation)
        throw new SagaDefinitionError(`step ${step.name}: a retriable step is never compensated`);
      return 'retriable';
    }
    return step.compensation ? 'compensatable' : 'pivot';
  });
  // The pivot: the step that cannot be undone (a trigger with no compensation counts).
  const irrevocable = kinds.flatMap((kind, i) =>
    kind === 'pivot' || (kind === 'trigger' && !definition.steps[i]?.compensation) ? [i] : [],
  );
  if (irrevocable.length > 1)
    throw new SagaDefinitionError('a saga has at most one pivot (a step with no compensation)');
  const pivot = irrevocable[0] ?? -1;
  kinds.forEach((kind, i) => {
    const name = definition.steps[i]?.name ?? String(i);
    const pastPivot = pivot >= 0 && i > pivot;
    if (pastPivot && kind !== 'retriable')
      throw new SagaDefinitionError(`step ${name}: steps past the pivot must be retriable`);
    if (!pastPivot && kind === 'retriable')
      throw new SagaDefinitionError(`step ${name}: a retriable step must come after the pivot`);
  });
  if (!kinds.some((k) => k !== 'trigger'))
    throw new SagaDefinitionError('a saga needs at least one step with a command');
  if (
    definition.maxAttempts < 1 ||
    definition.deadlineMs <= 0 ||
    definition.backoffMs < 0 ||
    (definition.sendsBeforeCompensating ?? 1) < 1
  )
    throw new SagaDefinitionError(
      'maxAttempts ≥ 1, deadlineMs > 0, backoffMs ≥ 0 and sendsBeforeCompensating ≥ 1',
    );
  return kinds;
}

export function defineSaga<Data>(definition: SagaDefinition<Data>): SagaDefinition<Data> {
  stepKinds(definition);
  return definition;
}
