// In-process locks per stream: commands on one stream in one process run one after another
// instead of racing to a concurrency conflict and a reload (Axon's aggregate lock). Across
// processes the expected version still guards, with retries. Several streams are locked in
// sorted order, so two commands over overlapping streams cannot wait on each other.
export class StreamLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Resolves once every key is held; call the returned function to release them all. */
  async acquire(keys: readonly string[]): Promise<() => void> {
    const releases: (() => void)[] = [];
    for (const key of [...new Set(keys)].sort()) releases.push(await this.lockOne(key));
    return () => {
      for (const release of releases.reverse()) release();
    };
  }

  /** How many keys are held or awaited (0 when idle: nothing leaks). */
  get size(): number {
    return this.tails.size;
  }

  private async lockOne(key: string): Promise<() => void> {
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
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
