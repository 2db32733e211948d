/**
 * An earlier release of netprobe, built from this repository's history for a
 * side-by-side comparison in the same run: `git archive <commit>` into a
 * temporary directory, its TypeScript compiled by its own build settings
 * (tsconfig.build.json, assets copied) with this tree's TypeScript, and its
 * committed BPF object used as released. Its dependencies are this tree's
 * `node_modules` (a symlink) when its package.json pins the same versions;
 * otherwise its own `npm ci`. Compiled with `--noCheck` (emit only: the
 * release was type-checked when it was made; the emitted JavaScript is the
 * same), which takes seconds where a checked build takes a minute. The
 * directory is removed at the bench's cleanup, also on failure.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onCleanup } from '../../test/support/cleanup-registry.js';
import type { BenchContext } from './context.js';
import type { NetprobeBuild } from './exporters.js';

const run = promisify(execFile);

export interface ReleaseBuild extends NetprobeBuild {
  commit: string;
  /** package.json's version at that commit. */
  version: string;
  /** How its dependencies were provided: this tree's node_modules, or its own npm ci. */
  dependencies: 'shared' | 'npm ci';
}

type Manifest = { version: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
const pins = (m: Manifest): string => JSON.stringify([m.dependencies ?? {}, m.devDependencies ?? {}]);

/** Builds netprobe as of `commit` (any name git resolves; the checkout needs that history: no shallow clone). */
export async function buildRelease(ctx: BenchContext, commit: string): Promise<ReleaseBuild> {
  const full = (
    await run('git', ['-C', ctx.repoRoot, 'rev-parse', '--verify', `${commit}^{commit}`]).catch(() => {
      throw new Error(`commit ${commit} is not in this checkout (a shallow clone? git fetch --unshallow)`);
    })
  ).stdout.trim();
  const dir = await mkdtemp(join(tmpdir(), `netprobe-release-${process.pid}-${full.slice(0, 7)}-`));
  onCleanup(`release build ${dir}`, () => rm(dir, { recursive: true, force: true }));
  ctx.log(`building netprobe ${full.slice(0, 7)} in ${dir}`);
  await run('sh', ['-c', 'git -C "$0" archive "$1" | tar -x -C "$2"', ctx.repoRoot, full, dir], { timeout: 120_000 });
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
  const ours = JSON.parse(readFileSync(join(ctx.repoRoot, 'package.json'), 'utf8')) as Manifest;
  const shared = pins(manifest) === pins(ours) && existsSync(join(ctx.repoRoot, 'node_modules'));
  if (shared) symlinkSync(realpathSync(join(ctx.repoRoot, 'node_modules')), join(dir, 'node_modules'));
  else await run('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: dir, timeout: 600_000 });
  await run(process.execPath, [join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--noCheck'], {
    cwd: dir,
    timeout: 300_000,
  });
  cpSync(join(dir, 'src', 'http', 'assets'), join(dir, 'dist', 'http', 'assets'), { recursive: true });
  const cli = join(dir, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`building ${full.slice(0, 7)} made no ${cli}`);
  return { cli, commit: full, version: manifest.version, dependencies: shared ? 'shared' : 'npm ci' };
}
