// A saga instance's history: every command sent, every reply, deadline, retry and park. Stored
// as the saga's stream in the `sagas` database, it is both the persisted state and the timeline
// `GET /sagas/:id` shows.
import { isoInstant, versioned, z, type EventOf } from '@es/schema';

const phase = z.enum(['forward', 'compensation']);
export type SagaPhase = z.output<typeof phase>;

const commandSchema = z.strictObject({
  topic: z.string().min(1),
  type: z.string().min(1),
  version: z.int().positive(),
  data: z.record(z.string(), z.unknown()),
});

const failure = z.strictObject({
  code: z.string().min(1),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
export type SagaFailure = z.output<typeof failure>;

const stepRef = { step: z.int().nonnegative(), phase };

export const SagaStarted = versioned(
  'SagaStarted',
  1,
  z.strictObject({
    sagaId: z.string().min(1),
    data: z.record(z.string(), z.unknown()),
    at: isoInstant,
  }),
);
/** Started while the saga it starts after still runs: no step is taken until that one ends. */
export const SagaHeld = versioned(
  'SagaHeld',
  1,
  z.strictObject({ waitingFor: z.string().min(1), at: isoInstant }),
);
/** The saga it waited for ended: its first step follows. */
export const SagaReleased = versioned('SagaReleased', 1, z.strictObject({ at: isoInstant }));
export const SagaCommandSent = versioned(
  'SagaCommandSent',
  1,
  z.strictObject({
    ...stepRef,
    attempt: z.int().positive(),
    /** Unique per saga and sending: a re-sent command is a new message, never deduplicated away. */
    messageId: z.string().min(1),
    command: commandSchema,
    /**
     * False for the undoing of a step whose reply never came: it travels behind the step's own
     * command on the same key, so the participant applies both in order whenever it is back,
     * and the saga need not wait for a participant that may be down.
     */
    awaited: z.boolean(),
    deadlineAt: isoInstant,
    at: isoInstant,
  }),
);
export const SagaReplyReceived = versioned(
  'SagaReplyReceived',
  1,
  z.strictObject({
    ...stepRef,
    command: z.string().min(1),
    outcome: z.enum(['success', 'failure']),
    failure: failure.optional(),
    at: isoInstant,
  }),
);
/** A reply the saga no longer waits for (late, after a deadline) is recorded and changes nothing. */
export const SagaReplyIgnored = versioned(
  'SagaReplyIgnored',
  1,
  z.strictObject({
    command: z.string().min(1),
    outcome: z.enum(['success', 'failure']),
    why: z.string(),
    at: isoInstant,
  }),
);
export const SagaDeadlineMissed = versioned(
  'SagaDeadlineMissed',
  1,
  z.strictObject({
    ...stepRef,
    command: z.string().min(1),
    attempt: z.int().positive(),
    at: isoInstant,
  }),
);
export const SagaCompensationStarted = versioned(
  'SagaCompensationStarted',
  1,
  z.strictObject({ step: z.int().nonnegative(), reason: z.string().min(1), at: isoInstant }),
);
export const SagaRetryScheduled = versioned(
  'SagaRetryScheduled',
  1,
  z.strictObject({
    ...stepRef,
    attempt: z.int().positive(),
    retryAt: isoInstant,
    problem: z.string(),
    at: isoInstant,
  }),
);
/** Attempts ran out: the saga waits for an operator (`POST /sagas/:id/retry`), never dropped. */
export const SagaParked = versioned(
  'SagaParked',
  1,
  z.strictObject({ ...stepRef, problem: z.string(), at: isoInstant }),
);
export const SagaResumed = versioned(
  'SagaResumed',
  1,
  z.strictObject({ actor: z.string().nullable(), at: isoInstant }),
);
export const SagaCompleted = versioned('SagaCompleted', 1, z.strictObject({ at: isoInstant }));
export const SagaCompensated = versioned(
  'SagaCompensated',
  1,
  z.strictObject({ reason: z.string().min(1), at: isoInstant }),
);

export const sagaEventSchemas = [
  SagaStarted,
  SagaHeld,
  SagaReleased,
  SagaCommandSent,
  SagaReplyReceived,
  SagaReplyIgnored,
  SagaDeadlineMissed,
  SagaCompensationStarted,
  SagaRetryScheduled,
  SagaParked,
  SagaResumed,
  SagaCompleted,
  SagaCompensated,
] as const;

export type SagaEvent = EventOf<(typeof sagaEventSchemas)[number]>;
