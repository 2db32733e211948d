/**
 * Runs collections: every `intervalMs`, and soon after a trigger (the source
 * reported an interface change), debounced so a burst of link events costs
 * one collection, plus one more `settleMs` after the trigger: a new
 * interface is attached before its first packets flow, and without that
 * second look its counters would read zero until the next interval. Runs
 * never overlap; a trigger during a run queues exactly one more. The work function must not throw (a rejection is reported to
 * `onError` and the loop goes on).
 */
import { performance } from 'node:perf_hooks';

export interface CollectionLoopOptions {
  intervalMs: number;
  /** Delay between a trigger and the collection it causes. */
  debounceMs: number;
  /** Delay between a trigger and a second, settling collection (omit for none). */
  settleMs?: number;
  run: () => Promise<void>;
  onError: (error: unknown) => void;
}

export class CollectionLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private rerunRequested = false;
  private stopped = true;
  /** Monotonic time (performance.now()) at which the pending timer fires; Infinity when none is pending. */
  private dueAt = Infinity;
  /** Monotonic time of the settling collection owed to the last trigger; Infinity when none. */
  private settleAt = Infinity;

  constructor(private readonly opts: CollectionLoopOptions) {}

  /** Schedules the periodic collections; the first one after one interval. */
  start(): void {
    this.stopped = false;
    this.schedule(this.opts.intervalMs);
  }

  /** Collects soon (after the debounce delay), unless one is already due sooner. */
  trigger(): void {
    if (this.stopped) return;
    if (this.opts.settleMs !== undefined) this.settleAt = performance.now() + this.opts.settleMs;
    if (this.running) {
      this.rerunRequested = true;
      return;
    }
    this.schedule(this.opts.debounceMs, true);
  }

  /** Collects now (after any run in progress) and resolves when done. */
  async runNow(): Promise<void> {
    while (this.running) await this.running;
    await this.execute();
  }

  /** Cancels the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    while (this.running) await this.running;
  }

  private schedule(delayMs: number, onlyIfSooner = false): void {
    const due = performance.now() + delayMs;
    if (onlyIfSooner && this.timer && this.dueAt <= due) return;
    this.clearTimer();
    this.dueAt = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.dueAt = Infinity;
      void this.execute().finally(() => {
        if (!this.stopped && !this.timer) this.scheduleNext();
      });
    }, delayMs);
  }

  /** The next regular collection, or the settling one if it is owed sooner. */
  private scheduleNext(): void {
    const untilSettle = this.settleAt - performance.now();
    if (untilSettle > 0 && untilSettle < this.opts.intervalMs) {
      this.settleAt = Infinity;
      this.schedule(untilSettle);
    } else {
      if (untilSettle <= 0) this.settleAt = Infinity;
      this.schedule(this.opts.intervalMs);
    }
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Infinity;
  }

  private async execute(): Promise<void> {
    if (this.running) {
      this.rerunRequested = true;
      return this.running;
    }
    const run = (async () => {
      try {
        await this.opts.run();
      } catch (error) {
        this.opts.onError(error);
      }
    })();
    this.running = run;
    try {
      await run;
    } finally {
      this.running = undefined;
    }
    if (this.rerunRequested && !this.stopped) {
      this.rerunRequested = false;
      this.schedule(this.opts.debounceMs, true);
    }
  }
}
