/**
 * Waiting for a state, not for a time: reads `probe` again and again until
 * `settled` accepts what it read, or a generous deadline passes. Returns the
 * last reading either way, so the caller's own assertion on it says what was
 * wrong when the state never came (and passes on a fast machine as on a busy
 * one).
 */
export interface WaitOptions {
  /** Give up after this long (default 45 s: a busy CI machine, not a fast one, sets it). */
  timeoutMs?: number;
  /** Pause between readings (default 200 ms). */
  intervalMs?: number;
}

export async function waitFor<T>(probe: () => Promise<T> | T, settled: (value: T) => boolean, opts: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 45_000);
  for (;;) {
    const value = await probe();
    if (settled(value) || Date.now() >= deadline) return value;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
  }
}
