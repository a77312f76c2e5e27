// The saga participant protocol, with the saga: how a saga command and a participant's typed
// reply travel (on a context's command topic, and on `sagas.replies`, keyed by the saga's id),
// and the one reply type the orchestrator decides on and every participant answers with.
import { identifier, z } from '@es/schema';
import type { SagaFailure } from './saga.events';

/**
 * A saga command or reply as it travels between contexts (docs/architecture.md, Participants answer in the append of their effect): its type and
 * contract version, the saga it belongs to, and its data. Keyed by the saga's order id.
 */
export function messageSchema<Type extends string, Data extends z.ZodType>(
  type: Type,
  version: number,
  data: Data,
) {
  return z.strictObject({
    type: z.literal(type),
    version: z.literal(version),
    sagaId: identifier,
    saga: sagaType,
    data,
  });
}

/**
 * The type of the saga a command comes from, echoed in its reply so the orchestrator hands the
 * reply to that saga: sagas of several types may share an id (an order's saga and its
 * cancellation's). Absent on messages from before there was more than one type: the order saga.
 */
const sagaType = z
  .string()
  .regex(/^[a-z][a-z0-9-]*$/, { error: 'must be a saga type, e.g. order-saga' })
  .optional();

/** A participant's typed failure: a stable code the saga branches on, and words for people. */
export const failureSchema = <Code extends string>(codes: readonly [Code, ...Code[]]) =>
  z.strictObject({
    code: z.enum(codes),
    message: z.string(),
    /** The facts behind it, e.g. which SKUs were short and by how much. */
    details: z.record(z.string(), z.unknown()).optional(),
  });

/** Where every participant answers the saga's commands, keyed by the saga's id. */
export const SAGA_REPLIES_TOPIC = 'sagas.replies';

/**
 * A participant's typed reply to one saga command (on `sagas.replies`): success with data, or
 * a failure with a code from the command's own list. Never an exception across services.
 */
export function replySchema<Command extends string, Data extends z.ZodType, Code extends string>(
  command: Command,
  version: number,
  success: Data,
  /** Empty for a command that cannot fail (a compensation that is safe to repeat). */
  codes: readonly Code[],
) {
  const succeeded = z.strictObject({ outcome: z.literal('success'), data: success });
  const failed = z.strictObject({
    outcome: z.literal('failure'),
    failure: failureSchema(codes as readonly [Code, ...Code[]]),
  });
  return z.strictObject({
    type: z.literal('Reply'),
    command: z.literal(command),
    version: z.literal(version),
    sagaId: identifier,
    saga: sagaType,
    result: codes.length > 0 ? z.discriminatedUnion('outcome', [succeeded, failed]) : succeeded,
  });
}

/** A saga command as it travels: what every command schema of `messageSchema` has. */
export interface SagaCommandMessage {
  readonly type: string;
  readonly version: number;
  readonly sagaId: string;
  /** The saga's type (absent: the order saga). */
  readonly saga?: string | undefined;
}

/** The one reply type: a success with its data, or a typed failure. Never an exception. */
export type ReplyResult =
  | { readonly outcome: 'success'; readonly data?: Readonly<Record<string, unknown>> }
  | { readonly outcome: 'failure'; readonly failure: SagaFailure };

export const success = (data: Readonly<Record<string, unknown>>): ReplyResult => ({
  outcome: 'success',
  data,
});

export const failure = (
  code: string,
  message: string,
  details?: Readonly<Record<string, unknown>>,
): ReplyResult => ({
  outcome: 'failure',
  failure: { code, message, ...(details ? { details } : {}) },
});
