/**
 * The exposition as served: built once per collection in both formats and
 * gzipped once per collection, so a scrape is a memory copy — no kernel I/O,
 * no rendering, no compression — and scrape cost does not grow with the
 * scrape rate.
 */
import { gzip, constants as zlibConstants } from 'node:zlib';
import { promisify } from 'node:util';
import { renderExposition, type ExpositionInput } from './exposition.js';
import { OPENMETRICS_CONTENT_TYPE, TEXT_CONTENT_TYPE } from './exposition-writer.js';
import type { InterfaceLabelCache } from './interface-labels.js';

const gzipAsync = promisify(gzip);
// Level 1: the text is very repetitive, so the fastest level already shrinks it ~10×.
const GZIP_OPTIONS = { level: zlibConstants.Z_BEST_SPEED };

export interface EncodedExposition {
  contentType: string;
  identity: Buffer;
  gzip: Buffer;
}

export interface ExpositionSnapshot {
  text: EncodedExposition;
  openMetrics: EncodedExposition;
  /** Samples in the exposition (process metrics included). */
  series: number;
}

export async function buildExpositionSnapshot(input: ExpositionInput, labels?: InterfaceLabelCache): Promise<ExpositionSnapshot> {
  const rendered = renderExposition(input, labels);
  const textBody = rendered.text;
  const omBody = rendered.openMetrics;
  const [textGzip, omGzip] = await Promise.all([gzipAsync(textBody, GZIP_OPTIONS), gzipAsync(omBody, GZIP_OPTIONS)]);
  return {
    text: { contentType: TEXT_CONTENT_TYPE, identity: textBody, gzip: textGzip },
    openMetrics: { contentType: OPENMETRICS_CONTENT_TYPE, identity: omBody, gzip: omGzip },
    series: rendered.samples,
  };
}
