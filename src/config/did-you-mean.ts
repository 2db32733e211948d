/**
 * Suggests the known name a user probably meant (`--colector.interval` →
 * `--collector.interval`, `collect_interval` → `collectInterval`, `port` →
 * `server.port`). Cheap: names are few and short.
 */

function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(substitution, (previous[j] as number) + 1, (current[j - 1] as number) + 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

/** The closest of `known` to `given`, or undefined when nothing is close. */
export function didYouMean(given: string, known: readonly string[]): string | undefined {
  const wanted = normalize(given);
  const lastSegment = (name: string): string => normalize(name.slice(name.lastIndexOf('.') + 1));
  const exact = known.find((name) => normalize(name) === wanted) ?? known.find((name) => lastSegment(name) === wanted);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(wanted.length / 5)) + 1;
  for (const name of known) {
    const distance = editDistance(wanted, normalize(name));
    if (distance < bestDistance) [best, bestDistance] = [name, distance];
  }
  return best;
}

/** ` (did you mean X?)` or nothing. */
export function didYouMeanSuffix(given: string, known: readonly string[], show: (name: string) => string = (name) => name): string {
  const match = didYouMean(given, known);
  return match === undefined ? '' : ` (did you mean ${show(match)}?)`;
}
