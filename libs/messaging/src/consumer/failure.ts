// Transient versus permanent, decided once for every consumer. A failure is permanent when
// handling the same message again can never succeed: it is malformed or of an unknown type
// (PoisonMessage), or the domain refused it and no reply answers the refusal (a DomainError,
// a refusal of the command handler). Those are dead-lettered at once. Everything else (a
// database or broker away, a lock or statement timeout, a conflict storm, a bug being fixed) is
// transient: the message is tried again, with capped back-off and without limit, holding back
// the messages of its key behind it, and is never marked handled until it succeeds. Errors say
// which they are by a `permanent: true` property, read by shape: they come from several
// libraries (and a pg or socket error from Node's own realm), so `instanceof` would not do.

/** An error that retrying cannot cure: its message goes to the dead-letter topic. */
export interface PermanentFailure {
  readonly permanent: true;
}

export function isPermanent(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { permanent?: unknown }).permanent === true
  );
}

/** Capped exponential back-off: `baseMs` × 2^(attempt − 1), at most `capMs`. */
export function backoffMs(
  attempt: number,
  baseMs: number,
  capMs = Number.POSITIVE_INFINITY,
): number {
  return Math.min(capMs, baseMs * 2 ** (Math.min(attempt, 64) - 1));
}
