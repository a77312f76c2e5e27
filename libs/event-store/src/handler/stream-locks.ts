// In-process locks per stream: commands on one stream in one process run one after another
// instead of racing to a concurrency conflict and a reload (Axon's aggregate lock). Across
// processes the expected version still guards, with retries. Several streams are locked in
// sorted order, so two commands over overlapping streams cannot wait on each other.
import { OverloadedError } from '../store/errors';

// A stream holds at most `maxWaiting` commands (holder and waiters): one more is refused at once
// (OverloadedError) rather than queued behind a stream that cannot keep up.
export class StreamLocks {
  private readonly tails = new Map<string, Promise<void>>();
  /** Per key: the holder and its waiters. */
  private readonly counts = new Map<string, number>();

  constructor(private readonly maxWaiting = 1_000) {}

  /**
   * Resolves once every key is held; call the returned function to release them all. Rejects
   * with OverloadedError, holding nothing, when a key already has maxWaiting commands.
   */
  async acquire(keys: readonly string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    // Once: a caller's finally may release what a failed re-acquire already released.
    let released = false;
    const releaseAll = () => {
      if (released) return;
      released = true;
      for (const release of releases.reverse()) release();
    };
    for (const key of [...new Set(keys)].sort()) {
      if ((this.counts.get(key) ?? 0) >= this.maxWaiting) {
        releaseAll();
        throw new OverloadedError(`the lock of stream ${key}`, this.maxWaiting);
      }
      releases.push(await this.lockOne(key));
    }
    return releaseAll;
  }

  /** How many keys are held or awaited (0 when idle: nothing leaks). */
  get size(): number {
    return this.tails.size;
  }

  private async lockOne(key: string): Promise<() => void> {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => held);
    this.tails.set(key, tail);
    await previous;
    return () => {
      release();
      const count = (this.counts.get(key) ?? 1) - 1;
      if (count === 0) this.counts.delete(key);
      else this.counts.set(key, count);
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
