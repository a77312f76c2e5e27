// How a saga is shown (`GET /sagas/:id`): where it is, whether it is compensating, and its
// timeline - every command sent, reply, deadline, retry and park, in order.
import type { RecordedEvent } from '@es/event-store';
import type { SagaDefinition, SagaEvent, SagaState } from '@es/saga';
import type { SagaType, SagaView, TimelineEntry } from '@es/saga-contracts';

function entryOf(recorded: RecordedEvent, stepName: (index: number) => string): TimelineEntry {
  const event = recorded as unknown as SagaEvent;
  const base = { at: recorded.recordedAt.toISOString(), event: event.type };
  switch (event.type) {
    case 'SagaCommandSent':
      return {
        ...base,
        step: stepName(event.data.step),
        phase: event.data.phase,
        command: event.data.command.type,
        detail: `attempt ${event.data.attempt}, reply due by ${event.data.deadlineAt}`,
      };
    case 'SagaReplyReceived':
      return {
        ...base,
        step: stepName(event.data.step),
        phase: event.data.phase,
        command: event.data.command,
        outcome: event.data.outcome,
        ...(event.data.failure
          ? { detail: `${event.data.failure.code}: ${event.data.failure.message}` }
          : {}),
      };
    case 'SagaReplyIgnored':
      return {
        ...base,
        command: event.data.command,
        outcome: event.data.outcome,
        detail: event.data.why,
      };
    case 'SagaDeadlineMissed':
      return {
        ...base,
        step: stepName(event.data.step),
        phase: event.data.phase,
        command: event.data.command,
      };
    case 'SagaCompensationStarted':
      return { ...base, step: stepName(event.data.step), detail: event.data.reason };
    case 'SagaRetryScheduled':
      return {
        ...base,
        step: stepName(event.data.step),
        phase: event.data.phase,
        detail: `${event.data.problem}; again at ${event.data.retryAt}`,
      };
    case 'SagaParked':
      return {
        ...base,
        step: stepName(event.data.step),
        phase: event.data.phase,
        detail: event.data.problem,
      };
    case 'SagaResumed':
      return { ...base, detail: `by ${event.data.actor ?? 'unknown'}` };
    case 'SagaHeld':
      return { ...base, detail: `until the ${event.data.waitingFor} of this id has ended` };
    case 'SagaCompensated':
      return { ...base, detail: event.data.reason };
    case 'SagaReleased':
    case 'SagaStarted':
    case 'SagaCompleted':
      return base;
  }
}

export function sagaView<Data>(
  definition: SagaDefinition<Data>,
  state: SagaState<Data>,
  version: number,
  history: readonly RecordedEvent[],
): SagaView | undefined {
  if (state.status === 'NONE') return undefined;
  const stepName = (index: number) => definition.steps[index]?.name ?? String(index);
  const running = 'step' in state ? state : undefined;
  return {
    sagaId: state.sagaId,
    type: definition.type as SagaType,
    state: state.status,
    step: running ? stepName(running.step) : null,
    waitingFor: state.status === 'WAITING' ? state.waitingFor : null,
    compensating:
      state.status === 'COMPENSATING' ||
      (state.status === 'PARKED' && state.phase === 'compensation'),
    // No step has been tried while held (attempt 0): none to show.
    attempt: running && running.attempt > 0 ? running.attempt : null,
    awaiting: running?.awaiting ?? null,
    deadlineAt: running?.deadlineAt ?? null,
    reason: 'reason' in state ? state.reason : null,
    problem: state.status === 'PARKED' ? state.problem : null,
    data: state.data,
    startedAt: state.startedAt,
    endedAt: 'endedAt' in state ? state.endedAt : null,
    version,
    timeline: history.map((recorded) => entryOf(recorded, stepName)),
  };
}
