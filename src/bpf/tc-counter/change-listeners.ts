/**
 * Listeners of "the counted interfaces changed", told once per burst of
 * changes: a resync may attach or detach thousands of interfaces at once.
 */
import type { Logger } from '../../log/logger.js';

export class ChangeListeners {
  private readonly listeners = new Set<() => void>();
  private pending = false;

  constructor(private readonly logger: Logger) {}

  /** Returns the unsubscribe function. */
  add(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  clear(): void {
    this.listeners.clear();
  }

  /** Calls every listener once, in a microtask after the current burst. */
  notify(): void {
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      for (const listener of [...this.listeners]) {
        try {
          listener();
        } catch (e) {
          this.logger.error({ err: e }, 'an onInterfacesChanged listener threw');
        }
      }
    });
  }
}
