/**
 * Reading `Accept` and `Accept-Encoding` with their q-values (RFC 9110
 * §12.4.2): what a scrape response should be encoded and formatted as.
 */

interface Preference {
  /** Lower-cased media range or coding, parameters other than q removed. */
  value: string;
  /** Lower-cased parameters other than q, e.g. `version=1.0.0`. */
  params: string[];
  q: number;
}

/** Parses a comma-separated header value with optional `;q=` weights. Malformed q counts as 0. */
export function parsePreferences(header: string | undefined): Preference[] {
  if (!header) return [];
  const out: Preference[] = [];
  for (const item of header.split(',')) {
    const [rawValue, ...rawParams] = item.split(';');
    const value = rawValue?.trim().toLowerCase();
    if (!value) continue;
    let q = 1;
    const params: string[] = [];
    for (const p of rawParams) {
      const param = p.trim().toLowerCase();
      if (param.startsWith('q=')) {
        const parsed = /^q=(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(param) ? Number(param.slice(2)) : 0;
        q = parsed;
      } else if (param) {
        params.push(param.replace(/\s*=\s*/, '='));
      }
    }
    out.push({ value, params, q });
  }
  return out;
}

/** True when the client accepts gzip (named or through `*`) with a q above 0. */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  const prefs = parsePreferences(acceptEncoding);
  const named = prefs.find((p) => p.value === 'gzip' || p.value === 'x-gzip');
  if (named) return named.q > 0;
  const wildcard = prefs.find((p) => p.value === '*');
  return wildcard !== undefined && wildcard.q > 0;
}

/**
 * True when `Accept` asks for OpenMetrics at least as strongly as for the
 * 0.0.4 text format (Prometheus sends both, OpenMetrics first and higher).
 */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  const prefs = parsePreferences(accept);
  let openMetrics = 0;
  let text = 0;
  for (const p of prefs) {
    if (p.value === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, p.q);
    else if (p.value === 'text/plain' || p.value === 'text/*' || p.value === '*/*') text = Math.max(text, p.q);
  }
  return openMetrics > 0 && openMetrics >= text;
}
