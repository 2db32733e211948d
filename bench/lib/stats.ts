/** Order statistics for benchmark samples: medians and spread, never means (noisy shared machine). */

export interface Summary {
  n: number;
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
}

/** Linear-interpolated quantile of sorted values, q in [0, 1]. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    p25: quantile(sorted, 0.25),
    p75: quantile(sorted, 0.75),
    min: sorted[0] ?? NaN,
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

/** Interquartile range relative to the median, e.g. "±3.1%" (half the IQR). */
export function relativeSpread(s: Summary): string {
  if (!(s.median > 0)) return 'n/a';
  return `±${((100 * (s.p75 - s.p25)) / 2 / s.median).toFixed(1)}%`;
}

/** The ratio of the medians of paired samples (same round), summarized. */
export function pairedRatios(numerator: readonly number[], denominator: readonly number[]): Summary {
  const n = Math.min(numerator.length, denominator.length);
  const ratios: number[] = [];
  for (let i = 0; i < n; i++) ratios.push(numerator[i]! / denominator[i]!);
  return summarize(ratios);
}
