// The shape of every aggregate's logic (shared/STYLE.md): pure functions, no I/O, no clock, no
// random ids. Time and ids arrive in the command.

/** A domain event as a decider produces it; the store adds ids, versions and metadata. */
export interface DomainEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
}

export interface Decider<Command, Event extends DomainEvent, State> {
  /** The events a command causes in a state; throws a DomainError when the command is refused. */
  decide(command: Command, state: State): readonly Event[];
  evolve(state: State, event: Event): State;
  initialState(): State;
}

/**
 * A command refused by the domain: which rule (`code`), why, and the facts behind it. Deciding
 * again on the same message gives the same refusal, so a consumer that meets one it cannot
 * answer dead-letters it rather than retrying (`permanent`).
 */
export class DomainError extends Error {
  /** Never a crash, and never cured by retrying. */
  readonly permanent = true;
  constructor(
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export function fold<Event extends DomainEvent, State>(
  decider: Pick<Decider<unknown, Event, State>, 'evolve'>,
  state: State,
  events: readonly Event[],
): State {
  return events.reduce((s, e) => decider.evolve(s, e), state);
}

/** For the `never` branch of an exhaustive switch over a union. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

/** A copy of a record without one key: for state that holds open items by id. */
export function withoutKey<V>(record: Readonly<Record<string, V>>, key: string): Record<string, V> {
  return Object.fromEntries(Object.entries(record).filter(([k]) => k !== key));
}
