/**
 * Where things are in the checkout, for helpers that start processes on
 * files (the CLI, fixture programs, BPF C fixtures): one place instead of
 * `new URL('../../..', import.meta.url)` arithmetic in every helper.
 */
import { fileURLToPath } from 'node:url';

/** The checkout's root, with a trailing slash. */
export const REPO = fileURLToPath(new URL('../../', import.meta.url));
/** test/fixtures/, with a trailing slash: BPF C fixtures, fixture programs, data. */
export const FIXTURES = `${REPO}test/fixtures/`;
/** test/support/, with a trailing slash. */
export const SUPPORT = `${REPO}test/support/`;
/** The CLI entry point, run with tsx. */
export const CLI = `${REPO}src/cli/main.ts`;

/** Absolute path of a file under test/fixtures/. */
export function fixturePath(name: string): string {
  return `${FIXTURES}${name}`;
}
