/** What every benchmark part receives, and the shape of a part. */
import type { PartResult } from './report.js';

export interface BenchContext {
  /** Tiny sizes and durations: proves the harness works (the smoke test), measures nothing. */
  smoke: boolean;
  /** Interface counts for the collection, scrape and memory parts. */
  sizes: number[];
  /** Length of the memory soak. */
  soakMinutes: number;
  repoRoot: string;
  /** bench/out: compiled comparison programs, raw results (gitignored). */
  outDir: string;
  log(message: string): void;
}

export interface BenchPart {
  name: string;
  title: string;
  /** What must exist in the tree for this part to run (checked before running). */
  needs: string[];
  run(ctx: BenchContext): Promise<PartResult>;
  /** Draws the part's chart (an SVG document) from its stored data, so --docs-only redraws it. */
  chart?: (data: Record<string, unknown>) => string;
}
