/**
 * A copy of netprobe that any user can run, for tests that start it as an
 * unprivileged user (setpriv --reuid=65534). That user may not be able to
 * read the checkout at all (a clone under a mode-0700 home), so it gets its
 * own tree in a fresh world-readable directory: src/ and test/fixtures/
 * transpiled to JavaScript (no tsx needed), their other files (assets, BPF
 * C), package.json, the compiled BPF objects of bpf/, and the production
 * node_modules. Built once per test process, on first use; removed at exit
 * (or by the next build, if that process was killed).
 */
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { REPO } from './repo-paths.js';

// esbuild through tsx, whose dependency it is (the loader the tests run with): a tenth of typescript's transpile time.
const requireFromTsx = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
const esbuild = requireFromTsx('esbuild') as typeof import('esbuild');

export interface ReadableCopy {
  /** The copy's root, mode 0755, every parent searchable by anyone. */
  root: string;
  /** The CLI entry point: run with `node <cli>`, no loader. */
  cli: string;
  /** The runnable copy of a checkout file: `src/...` or `test/fixtures/...` (`.ts` becomes `.js`). */
  path(repoPath: string): string;
}

let cached: ReadableCopy | undefined;

/** Whether every directory from `/` down to `dir` can be searched by any user. */
function searchableByAnyone(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return false;
    if (d === dirname(d)) return true;
  }
}

/** TMPDIR may itself be private: fall back to /tmp, then /run. */
function publicParent(): string {
  for (const candidate of [tmpdir(), '/tmp', '/run']) if (existsSync(candidate) && searchableByAnyone(candidate)) return candidate;
  throw new Error('no directory searchable by every user to put the readable copy in (tried TMPDIR, /tmp, /run)');
}

/** Copies `from` (a directory of the checkout) into `to`, transpiling TypeScript to ES modules. */
function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true, mode: 0o755 });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (entry.isDirectory()) {
      copyTree(source, join(to, entry.name));
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const { code } = esbuild.transformSync(readFileSync(source, 'utf8'), {
        loader: 'ts',
        format: 'esm',
        target: 'node20',
        sourcefile: source,
      });
      writeFileSync(join(to, entry.name.replace(/\.ts$/, '.js')), code, { mode: 0o644 });
    } else if (entry.isFile()) {
      cpSync(source, join(to, entry.name));
    }
  }
}

/** The packages `npm ci --omit=dev` would install (from package-lock.json), as paths under the checkout. */
function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean; link?: boolean }>;
  };
  return Object.entries(lock.packages)
    .filter(([path, meta]) => path.startsWith('node_modules/') && meta.dev !== true)
    .map(([path]) => path)
    .filter((path) => existsSync(join(REPO, path))); // optional packages of other platforms are absent
}

/** Makes every file readable and every directory searchable by anyone (the checkout's modes may be 0600/0700). */
function openUp(path: string): void {
  const st = statSync(path);
  if (st.isDirectory()) {
    chmodSync(path, 0o755);
    for (const name of readdirSync(path)) openUp(join(path, name));
  } else {
    chmodSync(path, st.mode & 0o111 ? 0o755 : 0o644);
  }
}

/** Copies left by test processes that were killed before their exit handler ran. */
function removeOrphans(parent: string): void {
  for (const name of readdirSync(parent)) {
    const pid = /^netprobe-readable-(\d+)-/.exec(name)?.[1];
    if (pid === undefined) continue;
    try {
      process.kill(Number(pid), 0);
    } catch {
      rmSync(join(parent, name), { recursive: true, force: true });
    }
  }
}

function build(): ReadableCopy {
  const parent = publicParent();
  removeOrphans(parent);
  const root = mkdtempSync(join(parent, `netprobe-readable-${process.pid}-`));
  process.once('exit', () => rmSync(root, { recursive: true, force: true }));
  copyTree(join(REPO, 'src'), join(root, 'src'));
  copyTree(join(REPO, 'test', 'fixtures'), join(root, 'test', 'fixtures'));
  cpSync(join(REPO, 'package.json'), join(root, 'package.json'));
  mkdirSync(join(root, 'bpf'));
  for (const name of readdirSync(join(REPO, 'bpf'))) if (name.endsWith('.o')) cpSync(join(REPO, 'bpf', name), join(root, 'bpf', name));
  // dereference: node_modules may be a link into a directory the user cannot read either.
  for (const pkg of productionPackages()) cpSync(join(REPO, pkg), join(root, pkg), { recursive: true, dereference: true });
  openUp(root);
  return {
    root,
    cli: join(root, 'src', 'cli', 'main.js'),
    path: (repoPath: string) => join(root, relative(REPO, join(REPO, repoPath)).replace(/\.ts$/, '.js')),
  };
}

/** The readable copy, built on first use in this process. */
export function readableCopy(): ReadableCopy {
  cached ??= build();
  return cached;
}

/** Whether a wrapper command (setpriv, runuser, su, sudo) runs its command as another user. */
export function runsAsAnotherUser(wrapper: readonly string[]): boolean {
  return wrapper.some((arg) => /^--(reuid|ruid|euid)=/.test(arg) || arg === 'runuser' || arg === 'su' || arg === 'sudo');
}
