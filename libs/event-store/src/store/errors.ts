import type { Refusal } from '../handler/decision';
import type { ExpectedVersion, StreamRef } from './types';

/** The stream moved on since it was read: reload and decide again. */
export class ConcurrencyError extends Error {
  constructor(
    readonly stream: StreamRef,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(
      `stream ${stream.type}/${stream.id}: expected version ${String(expected)}, but it is at ${actual}`,
    );
    this.name = 'ConcurrencyError';
  }
}

/** An event failed its type's schema: it is not appended, and nothing else of the append is. */
export class EventValidationError extends Error {
  /** The same message decides the same invalid event: a consumer dead-letters it. */
  readonly permanent = true;
  constructor(
    readonly eventType: string,
    readonly problems: readonly string[],
  ) {
    super(`event ${eventType} is invalid: ${problems.join('; ')}`);
    this.name = 'EventValidationError';
  }
}

/** An idempotency key (or message id) came back with a different request than its first use. */
export class IdempotencyKeyReusedError extends Error {
  constructor(
    readonly consumer: string,
    readonly messageId: string,
  ) {
    super(`${consumer}: key ${messageId} was first used for a different request`);
    this.name = 'IdempotencyKeyReusedError';
  }
}

/** Commands over several streams were refused together: every refusal, each with its stream. */
export class CommandsRefusedError extends Error {
  /** The same commands on the same state are refused the same way: retrying cannot cure it. */
  readonly permanent = true;
  constructor(readonly refusals: readonly Refusal[]) {
    super(
      `refused: ${refusals.map((r) => `${r.stream.type}/${r.stream.id}: ${r.error.message}`).join('; ')}`,
    );
    this.name = 'CommandsRefusedError';
  }
}

/**
 * A write refused for want of room: the queue it would wait in (the group commit's, a stream's
 * lock) already holds its limit. Nothing was written; the request can be retried. Transient for
 * a consumer (it retries with back-off), 503 with Retry-After over HTTP.
 */
export class OverloadedError extends Error {
  constructor(
    readonly queue: string,
    readonly limit: number,
  ) {
    super(`${queue} holds its limit of ${limit} waiting writes`);
    this.name = 'OverloadedError';
  }
}
