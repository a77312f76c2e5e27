// The saga engine as a pure decider over the saga's own history: decide(message, state) ->
// events, where every command to a participant is a SagaCommandSent event (the orchestrator
// writes its outbox row in the same append). No clock and no random ids: time arrives in each
// message, and message ids number the saga's sendings.
import { DomainError, assertNever, type Decider } from '@es/decider';
import { stepKinds, type SagaDefinition } from './saga-definition';
import type { SagaEvent, SagaFailure, SagaPhase } from '@es/saga-contracts';
import type { ActiveSaga, SagaMessage, SagaProgress, SagaState } from './saga.state';

const MAX_BACKOFF_MS = 60_000;
const MAX_REASON = 500;

const plus = (at: string, ms: number) => new Date(Date.parse(at) + ms).toISOString();

const failureReason = (failure: SagaFailure): string =>
  `${failure.code}: ${failure.message}`.slice(0, MAX_REASON);

function active<Data>(state: SagaState<Data>): ActiveSaga<Data> | undefined {
  return 'step' in state ? state : undefined;
}

export interface SagaDeciderOptions {
  /**
   * A sending's message id as it travels (the orchestrator's are UUIDs of the saga's numbering),
   * which a reply names as its cause; the numbering itself by default.
   */
  readonly wireId?: (messageId: string) => string;
}

export function sagaDecider<Data>(
  definition: SagaDefinition<Data>,
  { wireId = (id) => id }: SagaDeciderOptions = {},
): Decider<SagaMessage<Data>, SagaEvent, SagaState<Data>> {
  const kinds = stepKinds(definition);
  const { steps } = definition;
  const stepAt = (i: number) => {
    const step = steps[i];
    if (!step) throw new Error(`${definition.type} has no step ${i}`);
    return step;
  };
  const deadlineOf = (i: number) => stepAt(i).deadlineMs ?? definition.deadlineMs;
  /** The step done when the saga starts: its trigger, or none. */
  const firstDone = kinds[0] === 'trigger' ? 0 : -1;

  /** Decides by emitting events one by one, each applied at once, so later ones see the state. */
  class Emitter {
    readonly events: SagaEvent[] = [];
    constructor(public state: SagaState<Data>) {}
    emit(event: SagaEvent): void {
      this.events.push(event);
      this.state = evolve(this.state, event);
    }
    get saga(): ActiveSaga<Data> {
      const saga = active(this.state);
      if (!saga) throw new Error(`saga is ${this.state.status}, not running`);
      return saga;
    }
  }

  function send(
    out: Emitter,
    step: number,
    phase: SagaPhase,
    attempt: number,
    at: string,
    awaited = true,
  ): void {
    const saga = out.saga;
    const definitionStep = stepAt(step);
    const reason = 'reason' in saga && saga.reason !== null ? saga.reason : 'compensating';
    const command =
      phase === 'forward'
        ? definitionStep.invoke?.(saga.data)
        : definitionStep.compensation?.(saga.data, reason);
    if (!command) throw new Error(`step ${definitionStep.name} has no ${phase} command`);
    out.emit({
      type: 'SagaCommandSent',
      data: {
        step,
        phase,
        attempt,
        messageId: `${saga.sagaId}/${saga.sent + 1}`,
        command: { ...command, data: { ...command.data } },
        awaited,
        deadlineAt: plus(at, deadlineOf(step)),
        at,
      },
    });
  }

  /** The next step with a command after `done`, or the end of the saga. */
  function forwardFrom(out: Emitter, done: number, at: string): void {
    const next = steps.findIndex((s, i) => i > done && s.invoke !== undefined);
    if (next < 0) out.emit({ type: 'SagaCompleted', data: { at } });
    else send(out, next, 'forward', 1, at);
  }

  /** Undoes the highest step at or below `from` that has a compensation, or ends compensated. */
  function compensateFrom(out: Emitter, from: number, at: string): void {
    let next = -1;
    for (let i = Math.min(from, steps.length - 1); i >= 0 && next < 0; i--)
      if (stepAt(i).compensation) next = i;
    if (next >= 0) {
      send(out, next, 'compensation', 1, at);
      return;
    }
    const saga = out.saga;
    out.emit({
      type: 'SagaCompensated',
      data: { reason: saga.status === 'COMPENSATING' ? saga.reason : 'compensated', at },
    });
  }

  function startCompensating(out: Emitter, reason: string, inDoubt: boolean, at: string): void {
    const { step } = out.saga;
    out.emit({ type: 'SagaCompensationStarted', data: { step, reason, at } });
    // A step that failed outright did nothing; one whose reply never came may have: its undoing
    // follows it to the participant, which applies both in order when it is back (not awaited).
    if (inDoubt) send(out, step, 'compensation', 1, at, false);
    compensateFrom(out, step - 1, at);
  }

  /** A step that must succeed: again, after a back-off (or at once), until attempts run out. */
  function retryOrPark(out: Emitter, problem: string, immediate: boolean, at: string): void {
    const { step, phase, attempt } = out.saga;
    if (attempt >= definition.maxAttempts) {
      out.emit({
        type: 'SagaParked',
        data: { step, phase, problem: `${problem} (after ${attempt} attempts)`, at },
      });
    } else if (immediate) {
      send(out, step, phase, attempt + 1, at);
    } else {
      const wait = Math.min(MAX_BACKOFF_MS, definition.backoffMs * 2 ** (attempt - 1));
      out.emit({
        type: 'SagaRetryScheduled',
        data: { step, phase, attempt, retryAt: plus(at, wait), problem, at },
      });
    }
  }

  function onReply(
    out: Emitter,
    message: Extract<SagaMessage<Data>, { type: 'HandleReply' }>,
  ): void {
    const saga = active(out.state);
    const { command, causationId, result, at } = message;
    const answers =
      causationId !== null && saga?.answering.some((id) => wireId(id) === causationId) === true;
    if (!saga || saga.awaiting !== command || !answers) {
      if (out.state.status === 'NONE') return; // not a saga of ours: nothing to record it on
      out.emit({
        type: 'SagaReplyIgnored',
        data: {
          command,
          outcome: result.outcome,
          why:
            saga?.awaiting !== command
              ? saga?.awaiting
                ? `awaiting ${saga.awaiting}`
                : `saga is ${out.state.status}`
              : `it answers ${causationId ?? 'no command'}, not a sending of ${command} (${saga.answering.join(', ')})`,
          at,
        },
      });
      return;
    }
    const { step, phase } = saga;
    out.emit({
      type: 'SagaReplyReceived',
      data: {
        step,
        phase,
        command,
        outcome: result.outcome,
        ...(result.outcome === 'failure' ? { failure: result.failure } : {}),
        at,
      },
    });
    if (result.outcome === 'success') {
      if (phase === 'forward') forwardFrom(out, step, at);
      else compensateFrom(out, step - 1, at);
      return;
    }
    const problem = failureReason(result.failure);
    if (phase === 'forward' && kinds[step] !== 'retriable')
      startCompensating(out, problem, false, at);
    else retryOrPark(out, problem, false, at);
  }

  function onDeadline(out: Emitter, at: string): void {
    const saga = active(out.state);
    if (!saga || saga.status === 'PARKED' || saga.deadlineAt === null) return;
    if (Date.parse(at) < Date.parse(saga.deadlineAt)) return; // not due (yet, or any more)
    const { step, phase, attempt, awaiting } = saga;
    if (saga.timer === 'retry') {
      send(out, step, phase, attempt + 1, at);
      return;
    }
    const command = awaiting ?? '?';
    out.emit({ type: 'SagaDeadlineMissed', data: { step, phase, command, attempt, at } });
    const problem = `DEADLINE: ${stepAt(step).participant} did not answer ${command} within ${deadlineOf(step)} ms`;
    if (phase === 'forward' && kinds[step] === 'compensatable') {
      // Once more first, when the table says so: a participant restarting answers late, not never.
      if (attempt < (definition.sendsBeforeCompensating ?? 1))
        send(out, step, phase, attempt + 1, at);
      else {
        const sent = attempt > 1 ? ` (sent ${attempt} times)` : '';
        startCompensating(out, `${problem}${sent}`, true, at);
      }
    }
    // The pivot cannot be undone and a compensation must happen: ask again.
    else retryOrPark(out, problem, true, at);
  }

  function decide(message: SagaMessage<Data>, state: SagaState<Data>): readonly SagaEvent[] {
    const out = new Emitter(state);
    switch (message.type) {
      case 'StartSaga': {
        if (state.status !== 'NONE') return []; // a redelivered trigger: started already
        const { sagaId, data, at } = message;
        out.emit({
          type: 'SagaStarted',
          data: { sagaId, data: data as Record<string, unknown>, at },
        });
        if (message.held) {
          if (!definition.startsAfter)
            throw new Error(`${definition.type} starts after no saga: it cannot be held`);
          out.emit({ type: 'SagaHeld', data: { waitingFor: definition.startsAfter, at } });
        } else forwardFrom(out, firstDone, at);
        break;
      }
      case 'ReleaseSaga':
        if (state.status !== 'WAITING') return []; // not held, or released already
        out.emit({ type: 'SagaReleased', data: { at: message.at } });
        forwardFrom(out, firstDone, message.at);
        break;
      case 'HandleReply':
        onReply(out, message);
        break;
      case 'CheckDeadline':
        onDeadline(out, message.at);
        break;
      case 'ResumeSaga': {
        if (state.status === 'NONE') throw new DomainError('SAGA_NOT_FOUND', 'no such saga');
        if (state.status !== 'PARKED')
          throw new DomainError('SAGA_NOT_PARKED', `saga is ${state.status}, not PARKED`, {
            status: state.status,
          });
        out.emit({ type: 'SagaResumed', data: { actor: message.actor, at: message.at } });
        send(out, state.step, state.phase, 1, message.at);
        break;
      }
      default:
        return assertNever(message);
    }
    return out.events;
  }

  function evolve(state: SagaState<Data>, event: SagaEvent): SagaState<Data> {
    if (event.type === 'SagaStarted') {
      const { sagaId, data, at } = event.data;
      return {
        status: 'RUNNING',
        sagaId,
        data: data as Data,
        startedAt: at,
        step: 0,
        phase: 'forward',
        attempt: 0,
        sent: 0,
        awaiting: null,
        answering: [],
        deadlineAt: null,
        timer: null,
      };
    }
    const saga = active(state);
    if (!saga) return state; // nothing happens to a saga that has not started or has ended
    // A reply to the awaited command resumes a saga parked while waiting for it.
    const resumed = (): ActiveSaga<Data> => {
      if (saga.status !== 'PARKED') return saga;
      const progress = progressOf(saga);
      return saga.phase === 'compensation'
        ? { ...progress, status: 'COMPENSATING', reason: saga.reason ?? 'compensating' }
        : { ...progress, status: 'RUNNING' };
    };
    switch (event.type) {
      case 'SagaHeld':
        return { ...progressOf(saga), status: 'WAITING', waitingFor: event.data.waitingFor };
      case 'SagaReleased':
        return { ...progressOf(saga), status: 'RUNNING' };
      case 'SagaCommandSent': {
        const { step, phase, attempt, command, deadlineAt, awaited, messageId } = event.data;
        if (!awaited) return { ...saga, sent: saga.sent + 1 };
        const again = saga.step === step && saga.phase === phase;
        return {
          ...saga,
          step,
          phase,
          attempt,
          sent: saga.sent + 1,
          awaiting: command.type,
          answering: again ? [...saga.answering, messageId] : [messageId],
          deadlineAt,
          timer: 'reply',
        };
      }
      case 'SagaReplyReceived':
        return { ...resumed(), awaiting: null, deadlineAt: null, timer: null };
      case 'SagaReplyIgnored':
        return saga;
      case 'SagaDeadlineMissed':
        // Still awaiting: a late reply to this command is as good as one to its re-sending.
        return { ...saga, deadlineAt: null, timer: null };
      case 'SagaCompensationStarted':
        return {
          ...progressOf(saga),
          status: 'COMPENSATING',
          reason: event.data.reason,
          phase: 'compensation',
          awaiting: null,
          deadlineAt: null,
          timer: null,
        };
      case 'SagaRetryScheduled':
        return { ...saga, awaiting: null, deadlineAt: event.data.retryAt, timer: 'retry' };
      case 'SagaParked':
        return {
          ...saga,
          status: 'PARKED',
          reason: saga.status === 'COMPENSATING' ? saga.reason : null,
          problem: event.data.problem,
          deadlineAt: null,
          timer: null,
        };
      case 'SagaResumed':
        return { ...resumed(), attempt: 0 };
      case 'SagaCompleted':
        return ended(saga, 'COMPLETED', event.data.at);
      case 'SagaCompensated':
        return { ...ended(saga, 'COMPENSATED', event.data.at), reason: event.data.reason };
      default:
        return assertNever(event);
    }
  }

  function ended<S extends 'COMPLETED' | 'COMPENSATED'>(
    saga: ActiveSaga<Data>,
    status: S,
    endedAt: string,
  ) {
    const { sagaId, data, startedAt, sent } = saga;
    return { status, sagaId, data, startedAt, endedAt, sent } as Extract<
      SagaState<Data>,
      { status: S }
    >;
  }

  return { initialState: () => ({ status: 'NONE' }), decide, evolve };
}

function progressOf<Data>(saga: SagaProgress<Data>): SagaProgress<Data> {
  const { sagaId, data, startedAt, step, phase, attempt, sent, awaiting, answering } = saga;
  const { deadlineAt, timer } = saga;
  return {
    sagaId,
    data,
    startedAt,
    step,
    phase,
    attempt,
    sent,
    awaiting,
    answering,
    deadlineAt,
    timer,
  };
}
