/**
 * Reading a Prometheus exposition in tests: one sample's value, every label
 * set of a metric (values unescaped), and `promtool check metrics`.
 */
import { execFile } from 'node:child_process';

/** Runs `promtool check metrics` on an exposition; resolves with its complaints ('' = clean). */
export async function promtoolCheck(exposition: string): Promise<string> {
  const child = execFile('promtool', ['check', 'metrics']);
  const result = new Promise<string>((resolve) => {
    let text = '';
    child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
    child.on('close', () => resolve(text.trim()));
  });
  child.stdin?.end(exposition);
  return result;
}

/** Sample value of `name{labels}` in an exposition, matching every given label; undefined if absent. */
export function sampleValue(exposition: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const parsed = parseLabels(line.slice(name.length));
    if (Object.entries(labels).every(([k, v]) => parsed.labels[k] === v)) return Number(parsed.value);
  }
  return undefined;
}

/** Every label set of `name` in an exposition (label values unescaped). */
export function labelSets(exposition: string, name: string): Array<Record<string, string>> {
  return exposition
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .map((l) => parseLabels(l.slice(name.length)).labels);
}

function parseLabels(rest: string): { labels: Record<string, string>; value: string } {
  const labels: Record<string, string> = {};
  let i = 0;
  if (rest[0] === '{') {
    i = 1;
    while (rest[i] !== '}') {
      const eq = rest.indexOf('=', i);
      const key = rest.slice(i, eq);
      let j = eq + 2;
      let value = '';
      while (rest[j] !== '"') {
        if (rest[j] === '\\') {
          const n = rest[j + 1];
          value += n === 'n' ? '\n' : n;
          j += 2;
        } else {
          value += rest[j];
          j++;
        }
      }
      labels[key] = value;
      i = rest[j + 1] === ',' ? j + 2 : j + 1;
    }
    i++;
  }
  return { labels, value: rest.slice(i).trim().split(' ')[0] ?? '' };
}
