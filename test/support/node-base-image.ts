/**
 * A local stand-in for the public Node 20 Debian images, for building the
 * repository's Dockerfile where no image registry is reachable: a Debian 12
 * (bookworm) minbase root filesystem from Debian's own packages
 * (mmdebstrap) plus this machine's Node 20 and npm, laid out as in the
 * official image (/usr/local/bin/node, /usr/local/lib/node_modules/npm),
 * imported into a test podman store under both tags the Dockerfile derives
 * from NODE_IMAGE (`<name>:20-bookworm` and `<name>:20-bookworm-slim`).
 *
 * Only this TEST base carries the machine's CA bundle and
 * NODE_EXTRA_CA_CERTS (the registry is reached through a proxy that bundle
 * trusts); the shipped Dockerfile carries neither.
 *
 * NETPROBE_TEST_BASE_CACHE=<dir> keeps the root filesystem tarball between
 * runs (a developer's loop); without it everything is built from nothing.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Podman } from './podman.js';

const run = promisify(execFile);

/** The NODE_IMAGE build argument that selects the local base. */
export const LOCAL_NODE_IMAGE = 'localhost/netprobe-test-node:20-bookworm';

const HOST_NODE = '/usr/bin/node';
const HOST_NPM = '/usr/lib/node_modules/npm';
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const CA_IN_IMAGE = '/usr/local/share/netprobe-test/host-ca-bundle.crt';

/** What the base image must not change without a rebuild of a cached tarball. */
async function cacheKey(): Promise<string> {
  const { stdout } = await run(HOST_NODE, ['--version']);
  return `bookworm-minbase-node${stdout.trim()}`;
}

/** Builds the root filesystem tarball (about 1-4 minutes, most of it downloading Debian packages). */
async function buildRootfs(out: string): Promise<void> {
  const hooks = [
    `copy-in ${HOST_NODE} /usr/local/bin`,
    'mkdir -p "$1/usr/local/lib/node_modules" "$1/usr/local/share/netprobe-test"',
    `copy-in ${HOST_NPM} /usr/local/lib/node_modules`,
    'ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"',
    'ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"',
    `upload ${HOST_CA_BUNDLE} ${CA_IN_IMAGE}`,
  ];
  await run(
    'mmdebstrap',
    [
      '--quiet',
      '--variant=minbase',
      '--include=ca-certificates',
      // usr-is-merged instead of usrmerge, which would pull in perl.
      '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
      '--dpkgopt=force-unsafe-io',
      '--dpkgopt=path-exclude=/usr/share/man/*',
      '--dpkgopt=path-exclude=/usr/share/doc/*',
      '--dpkgopt=path-exclude=/usr/share/locale/*',
      ...hooks.map((h) => `--customize-hook=${h}`),
      'bookworm',
      out,
    ],
    { timeout: 15 * 60_000, maxBuffer: 64 << 20 },
  );
}

/**
 * Imports the local Node base into `podman`'s store (building or reusing the
 * tarball) and returns the NODE_IMAGE value to build the Dockerfile with.
 */
export async function importNodeBase(podman: Podman, log: (line: string) => void = () => undefined): Promise<string> {
  const name = `${await cacheKey()}.tar`;
  const cacheDir = process.env['NETPROBE_TEST_BASE_CACHE'];
  const cached = cacheDir ? join(cacheDir, name) : undefined;
  let tarball = join(podman.dir, name);
  if (cached && (await stat(cached).catch(() => undefined))?.isFile()) {
    log(`base: reusing ${cached}`);
    tarball = cached;
  } else {
    const started = Date.now();
    await buildRootfs(tarball);
    log(`base: mmdebstrap took ${Math.round((Date.now() - started) / 1000)} s`);
    if (cached && cacheDir) {
      await mkdir(cacheDir, { recursive: true });
      await copyFile(tarball, cached);
    }
  }
  const changes = [
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    `ENV NODE_EXTRA_CA_CERTS=${CA_IN_IMAGE}`,
    'CMD ["node"]',
  ];
  await podman.ok(['import', ...changes.flatMap((c) => ['--change', c]), tarball, LOCAL_NODE_IMAGE], { timeoutMs: 300_000 });
  await podman.ok(['tag', LOCAL_NODE_IMAGE, `${LOCAL_NODE_IMAGE}-slim`]);
  return LOCAL_NODE_IMAGE;
}
