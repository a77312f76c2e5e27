// given(events).when(command).then(events) for deciders, free of any test framework: `then`
// and `thenThrows` return what to compare, so a spec reads the same under any runner.
import { DomainError, fold, type Decider, type DomainEvent } from './decider';

export interface DeciderOutcome<Event> {
  readonly events?: readonly Event[];
  readonly error?: DomainError;
}

export function deciderSpec<Command, Event extends DomainEvent, State>(
  decider: Decider<Command, Event, State>,
) {
  return {
    given(history: readonly Event[] = []) {
      const state = fold(decider, decider.initialState(), history);
      return {
        state,
        when(command: Command): DeciderOutcome<Event> & { state: State } {
          try {
            return { events: decider.decide(command, state), state };
          } catch (error) {
            if (error instanceof DomainError) return { error, state };
            throw error;
          }
        },
      };
    },
  };
}

/** What a command in a state should cause: these events, or a refusal with this code. */
export type Expected<Event> = { readonly events: readonly Event[] } | { readonly error: string };

/**
 * Every command in every state, as rows for a table-driven test: (state name, command name,
 * what happened, what was expected), both in the Expected shape so one equality compares them.
 */
export function everyCommandInEveryState<
  Command,
  Event extends DomainEvent,
  State,
  S extends string,
  C extends string,
>(
  decider: Decider<Command, Event, State>,
  histories: Readonly<Record<S, readonly Event[]>>,
  commands: Readonly<Record<C, Command>>,
  table: Readonly<Record<S, Readonly<Record<C, Expected<Event>>>>>,
): [S, C, Expected<Event>, Expected<Event>][] {
  const spec = deciderSpec(decider);
  return (Object.keys(table) as S[]).flatMap((state) =>
    (Object.keys(table[state]) as C[]).map((command): [S, C, Expected<Event>, Expected<Event>] => {
      const outcome = spec.given(histories[state]).when(commands[command]);
      const actual: Expected<Event> = outcome.error
        ? { error: outcome.error.code }
        : { events: outcome.events ?? [] };
      return [state, command, actual, table[state][command]];
    }),
  );
}
