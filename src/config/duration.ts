/**
 * Durations as people write them in flags, env vars and config files
 * (`500ms`, `5s`, `1m`, `1h30m`, Go and Prometheus style), converted to the
 * milliseconds the TypeScript API uses.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const COMPONENT = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

/** What a duration may look like, for error messages and help. */
export const DURATION_SYNTAX = 'a duration like 500ms, 5s, 1m or 1h30m (units ms, s, m, h, d)';

/**
 * Parses `1h30m` into milliseconds. Returns undefined when the text is not a
 * duration (including bare numbers: `5` could mean seconds or milliseconds).
 */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  let total = 0;
  COMPONENT.lastIndex = 0;
  while (COMPONENT.lastIndex < trimmed.length) {
    const match = COMPONENT.exec(trimmed);
    if (!match) return undefined;
    total += Number(match[1]) * (UNIT_MS[match[2] as string] as number);
  }
  // Decimal parts (`1.1s`) carry float noise; anything finer than 1 ms cannot
  // be honoured by timers, so it is refused rather than silently rounded.
  const whole = Math.round(total);
  return Math.abs(total - whole) < 1e-6 && Number.isSafeInteger(whole) ? whole : undefined;
}

/** The shortest `1h30m`-style text for a whole number of milliseconds. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
    ['ms', 1],
  ] as const) {
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}
