/**
 * Link events are handled one per event-loop turn, in order: each attach
 * is a blocking system call that waits on the kernel (under load, tens of
 * milliseconds), and a burst of new pods must not stall a scrape for seconds.
 */
import type { Logger } from '../../log/logger.js';

export class LinkEventQueue {
  private readonly pending: Array<() => void> = [];

  constructor(private readonly logger: Logger) {}

  enqueue(work: () => void): void {
    this.pending.push(work);
    if (this.pending.length === 1) setImmediate(() => this.runNext());
  }

  /** Drops what has not run yet (at close). */
  clear(): void {
    this.pending.length = 0;
  }

  private runNext(): void {
    const work = this.pending[0];
    if (!work) return;
    try {
      work();
    } catch (e) {
      this.logger.error({ err: e }, 'handling an interface event failed');
    }
    this.pending.shift();
    if (this.pending.length > 0) setImmediate(() => this.runNext());
  }
}
