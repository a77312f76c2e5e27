// The last state the command handler knew of each stream it wrote or loaded, at its version
// (Axon's caching repository). A command decided on a cached state skips the load, one query
// of the two a command costs. Nothing is trusted that the store would not check: the append
// still expects the cached version, so a stream another process wrote since fails with a
// ConcurrencyError (the entry is dropped and the command reloads); a refusal is decided again
// on a fresh load before it is reported; a message handled before is caught by the inbox mark
// in the append (AlreadyHandledError) instead of by the load. Least recently used entries go
// first past the size limit.
import type { AggregateDefinition } from './aggregate';

interface Entry {
  readonly definition: object;
  readonly version: number;
  readonly state: unknown;
}

export class AggregateCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached state of the stream, when it was cached for this very definition. */
  get<S>(
    key: string,
    definition: AggregateDefinition<never, never, S> | object,
  ): { version: number; state: S } | undefined {
    const entry = this.entries.get(key);
    if (!entry || entry.definition !== definition) return undefined;
    // Refreshed: the Map's order is the recency order.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return { version: entry.version, state: entry.state as S };
  }

  /**
   * Remembers the stream at this version. Never goes back to an older version: a fresh load
   * that read before a command's append may finish after it.
   */
  set(key: string, definition: object, version: number, state: unknown): void {
    if (this.maxEntries <= 0) return;
    const current = this.entries.get(key);
    if (current && current.definition === definition && current.version > version) return;
    this.entries.delete(key);
    this.entries.set(key, { definition, version, state });
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }
}
