// A service's own periodic work (the saga deadline scan, the order verdict sweep): each run
// starts `everyMs` after the previous one ended, so runs never overlap or queue up; a failed run
// is logged and the next one comes as usual; stop() cancels the next run and waits for the one
// in progress.
import type { Logger } from '@nestjs/common';

export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly what: string,
    private readonly everyMs: number,
    private readonly work: () => Promise<unknown>,
    private readonly logger: Logger,
  ) {}

  /** False once stop() was called: a run in progress can end early. */
  get active(): boolean {
    return !this.stopped;
  }

  /** The first run now, the next ones every `everyMs` after each ends. */
  start(): void {
    if (this.stopped) return;
    this.running = this.work()
      .catch((error: unknown) => {
        this.logger.warn(
          `${this.what} failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      })
      .finally(() => {
        if (!this.stopped)
          this.timer = setTimeout(() => {
            this.start();
          }, this.everyMs);
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
