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
