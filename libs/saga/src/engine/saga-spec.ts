// given(history).when(message).then(commands) for sagas (shared/STYLE.md), free of any test
// framework. The history is written as the messages that made it (a start, some replies), each
// played through the decider, so a spec states what happened, not how the engine stored it.
import { DomainError, fold } from '@es/decider';
import type { SagaDefinition } from './saga-definition';
import { sagaDecider } from './saga.decider';
import type { SagaEvent } from '@es/saga-contracts';
import type { SagaMessage, SagaState } from './saga.state';

export interface SentCommand {
  readonly type: string;
  readonly topic: string;
  readonly data: Readonly<Record<string, unknown>>;
}

export interface SagaOutcome<Data> {
  readonly events: readonly SagaEvent[];
  /** The commands sent to participants, in order. */
  readonly commands: readonly SentCommand[];
  readonly state: SagaState<Data>;
  readonly error?: DomainError;
}

export const sentCommands = (events: readonly SagaEvent[]): SentCommand[] =>
  events.flatMap((e) =>
    e.type === 'SagaCommandSent'
      ? [{ type: e.data.command.type, topic: e.data.command.topic, data: e.data.command.data }]
      : [],
  );

/**
 * A message as a spec writes it: a reply that names no `causationId` answers the latest awaited
 * sending, as a participant's reply to it does (name one to play a stale or forged reply).
 */
export type SpecMessage<Data> =
  | Exclude<SagaMessage<Data>, { type: 'HandleReply' }>
  | (Omit<Extract<SagaMessage<Data>, { type: 'HandleReply' }>, 'causationId'> & {
      readonly causationId?: string | null;
    });

function complete<Data>(message: SpecMessage<Data>, state: SagaState<Data>): SagaMessage<Data> {
  if (message.type !== 'HandleReply') return message;
  const latest = 'answering' in state ? (state.answering.at(-1) ?? null) : null;
  return {
    ...message,
    causationId: message.causationId === undefined ? latest : message.causationId,
  };
}

export function sagaSpec<Data>(definition: SagaDefinition<Data>) {
  const decider = sagaDecider(definition);
  const play = (state: SagaState<Data>, spec: SpecMessage<Data>): SagaOutcome<Data> => {
    const message = complete(spec, state);
    try {
      const events = decider.decide(message, state);
      return { events, commands: sentCommands(events), state: fold(decider, state, events) };
    } catch (error) {
      if (error instanceof DomainError) return { events: [], commands: [], state, error };
      throw error;
    }
  };
  return {
    given(...history: readonly SpecMessage<Data>[]) {
      const events: SagaEvent[] = [];
      let state = decider.initialState();
      for (const message of history) {
        const outcome = play(state, message);
        if (outcome.error) throw outcome.error; // a history must be possible
        events.push(...outcome.events);
        state = outcome.state;
      }
      return {
        state,
        history: events as readonly SagaEvent[],
        when: (message: SpecMessage<Data>) => play(state, message),
      };
    },
  };
}
