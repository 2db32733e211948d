/**
 * The container image, built from the repository's Dockerfile by podman
 * (buildah) and run with the DaemonSet's own settings.
 *
 * Build: the Dockerfile unchanged, but for NODE_IMAGE pointing at a local
 * Debian 12 + Node 20 base (test/support/node-base-image.ts; no image
 * registry is reachable here). Then: the image is small, holds no build tool
 * and no test file, and its BPF object is the committed one.
 *
 * Run: the container settings come from deploy/kubernetes/daemonset.yaml
 * itself, translated to `podman run` flags (test/support/daemonset-to-podman.ts):
 * capabilities, seccomp profile, read-only root, user, args, env, volumes,
 * probes, grace period, limits. The node's network is a test namespace with
 * a veth pair carrying real traffic. Checked: counters equal the kernel's
 * statistics exactly; the probes' path and port answer 200 "ok"; the process
 * holds only the granted capabilities (what --capabilities.keep leaves);
 * the root filesystem is read-only; `podman stop` (SIGTERM) ends it with
 * status 0 within the grace period. With the DaemonSet's --ebpf.pin-path the
 * programs stay attached while it is down; `podman start` (the kubelet's
 * restart) adopts them and the counters equal the kernel's again, downtime
 * included; the uninstall step (--ebpf.cleanup, run from the image with the
 * same mounts) leaves nothing attached and no pin.
 * Seccomp: with the DaemonSet's RuntimeDefault, podman's default profile
 * (the same as CRI-O's) refuses bpf(2) and netprobe exits 1 naming seccomp
 * (NP_ERR_SECCOMP); with the shipped profile (deploy/kubernetes/seccomp/) it runs.
 *
 * Pod and restart features: the translator handles hostPID and hostPath
 * volumes (a /var/log/pods stand-in directory, a private bpffs for
 * /sys/fs/bpf), so they run here as soon as the DaemonSet asks for them; the
 * test prints which of them the manifest uses (diagnostic "covers").
 *
 * Everything lives in a private podman store under a temporary directory
 * (no global configuration or storage is touched) and is removed at the end,
 * also on failure. Most of the time is mmdebstrap and the build's npm ci: about 3 minutes from
 * nothing on a quiet 2-core VM, 18 under heavy load (docs/deployment.md has the numbers);
 * NETPROBE_TEST_BASE_CACHE=<dir> keeps the base tarball between runs;
 * NETPROBE_TEST_BUILD_CONTEXT=<dir> builds another tree than this checkout.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Podman, unmountUnder } from '../support/podman.js';
import { importNodeBase } from '../support/node-base-image.js';
import { daemonSetToPodman, type PodmanRunSpec } from '../support/daemonset-to-podman.js';
import { loadDaemonSet, SECCOMP_DIR } from '../support/daemonset-manifest.js';
import { Netns, vethBetween, type VethPair } from '../support/netns.js';
import { quietIpv6, sendUdp, staticNeighbours } from '../support/traffic.js';
import { fetchInNetns } from '../support/netns-http.js';
import { sampleValue } from '../support/exposition-parse.js';
import { attachedInterfaces } from '../support/tc-attachments.js';
import { REPO } from '../support/repo-paths.js';
import { privateBpffs } from '../support/bpffs.js';
import { capabilityNames, DEFAULT_KEEP_CAPABILITIES, parseProcStatusCapabilities } from '../../src/security/capabilities.js';

const IMAGE = 'localhost/netprobe-exporter:test';
/** Compilers, build drivers and TypeScript tooling: none may be an executable in the image (by name, in any bin directory). */
const BUILD_TOOLS =
  /^(gcc|g\+\+|cc|c\+\+|cpp|clang(-\d+)?|clang\+\+|ld|ld\.bfd|as|make|gmake|cmake|python[\d.]*|node-gyp|tsc|tsx|esbuild|npm|npx|corepack|yarn)$/;
/** Files of packages that are build tooling, wherever a node_modules holds them (npm prune leaves empty scope directories). */
const BUILD_PACKAGE_FILE = /\/node_modules\/(typescript|tsx|esbuild|@esbuild\/[^/]+|node-gyp|npm|@types\/[^/]+|eslint|prettier)\//;

function log(t: TestContext, line: string): void {
  t.diagnostic(line);
}

async function buildImage(t: TestContext, podman: Podman): Promise<void> {
  const nodeImage = await importNodeBase(podman, (l) => log(t, l));
  const started = Date.now();
  // NETPROBE_TEST_BUILD_CONTEXT: build another tree (e.g. a clean `git worktree` while the checkout is mid-edit).
  const context = process.env['NETPROBE_TEST_BUILD_CONTEXT'] ?? REPO;
  // --network=host for the BUILD only (npm ci and apt reach their registries); the run is in a test namespace.
  await podman.stream(
    ['build', '--network=host', '--build-arg', `NODE_IMAGE=${nodeImage}`, '--tag', IMAGE, '--file', join(context, 'Dockerfile'), context],
    () => undefined,
    { timeoutMs: 15 * 60_000 },
  );
  log(t, `build: ${Math.round((Date.now() - started) / 1000)} s`);
}

/** Every path in the image's file system, relative, with its type. */
async function listFiles(root: string): Promise<Array<{ path: string; dir: boolean }>> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries.map((e) => ({ path: join(e.parentPath, e.name).slice(root.length), dir: e.isDirectory() }));
}

/** Capability names of a mask, as podman and the manifest write them (`BPF`, `NET_ADMIN`), sorted. */
function upperNames(mask: bigint): string[] {
  return capabilityNames(mask)
    .map((n) => n.toUpperCase())
    .sort();
}

/** The node's network namespace stand-in: `node` with one veth to `peer`, quiet (no IPv6, static neighbours). */
async function nodeNetwork(t: TestContext): Promise<{ node: Netns; peer: Netns; link: VethPair }> {
  const node = await Netns.create('npimg');
  t.after(() => node.delete());
  const peer = await Netns.create('npimp');
  t.after(() => peer.delete());
  await quietIpv6(node, peer);
  const link = await vethBetween(node, peer);
  await staticNeighbours(node, peer, link);
  return { node, peer, link };
}

/** Host stand-ins for every hostPath the DaemonSet mounts; says which pod/restart features are covered. */
async function hostPathStandIns(t: TestContext, daemonSet: unknown): Promise<Record<string, string>> {
  const pod = (daemonSet as { spec: { template: { spec: { volumes?: Array<{ hostPath?: { path: string } }>; hostPID?: boolean } } } }).spec
    .template.spec;
  const standIns: Record<string, string> = {};
  const covers: string[] = [];
  if (pod.hostPID) covers.push('hostPID (--pid host)');
  for (const volume of pod.volumes ?? []) {
    const path = volume.hostPath?.path;
    if (path === undefined) continue;
    if (path === '/sys/fs/bpf' || path.startsWith('/sys/fs/bpf/')) {
      const bpffs = await privateBpffs();
      t.after(() => bpffs.cleanup());
      standIns[path] = bpffs.dir;
      covers.push(`bpffs ${path} (private instance)`);
      continue;
    }
    const dir = await mkdtemp(join(tmpdir(), 'np-img-hostpath-'));
    t.after(async () => {
      await unmountUnder(dir);
      await rm(dir, { recursive: true, force: true });
    });
    covers.push(`hostPath ${path} (temporary directory)`);
    standIns[path] = dir;
  }
  log(
    t,
    `covers: ${covers.length > 0 ? covers.join(', ') : 'no pod or restart feature (the DaemonSet has no hostPID and no hostPath yet)'}`,
  );
  return standIns;
}

async function translate(t: TestContext, node: Netns, opts: { seccomp: boolean; name: string }): Promise<PodmanRunSpec> {
  const daemonSet = await loadDaemonSet({ seccomp: opts.seccomp });
  const spec = daemonSetToPodman(daemonSet, {
    image: IMAGE,
    name: opts.name,
    netnsPath: `/run/netns/${node.name}`,
    seccompDir: SECCOMP_DIR,
    hostPaths: await hostPathStandIns(t, daemonSet),
    fieldRefs: { 'spec.nodeName': node.name },
  });
  for (const note of spec.notes) log(t, `translation: ${note}`);
  log(t, `podman run ${spec.args.join(' ')}`);
  return spec;
}

/** The netprobe counters of one interface and direction, from /metrics. */
function counters(exposition: string, ifname: string, direction: 'ingress' | 'egress'): { packets: number; bytes: number } {
  const labels = { interface: ifname, direction };
  return {
    packets: sampleValue(exposition, 'netprobe_tc_packets_total', labels) ?? Number.NaN,
    bytes: sampleValue(exposition, 'netprobe_tc_bytes_total', labels) ?? Number.NaN,
  };
}

async function scrape(node: Netns, port: number, path = '/metrics'): Promise<{ status: number; body: string }> {
  const r = await fetchInNetns(node, `http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: r.body.toString('utf8') };
}

async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

test('the container image: built from the Dockerfile, run as the DaemonSet runs it', { timeout: 25 * 60_000 }, async (t) => {
  const podman = await Podman.create();
  t.after(() => podman.remove());
  await buildImage(t, podman);

  await t.test('small: production files only, no build tool, no test file, the committed BPF object', async () => {
    const size = Number((await podman.ok(['image', 'inspect', '--format', '{{.Size}}', IMAGE])).trim());
    log(t, `image size: ${(size / 1e6).toFixed(1)} MB (local Debian 12 minbase + Node 20 base)`);
    log(t, (await podman.ok(['history', '--format', '{{.Size}}\t{{.CreatedBy}}', IMAGE])).slice(0, 3000));
    const root = (await podman.ok(['image', 'mount', IMAGE])).trim();
    t.after(() => podman.run(['image', 'unmount', IMAGE]));
    const files = await listFiles(root);
    assert.ok(files.length > 1000, `${files.length} files`);

    const tools = files
      .filter((f) => !f.dir && /\/s?bin\/[^/]+$/.test(f.path) && BUILD_TOOLS.test(f.path.split('/').pop() ?? ''))
      .map((f) => f.path);
    assert.deepEqual(tools, [], 'build tools in the image');
    assert.deepEqual(
      files.filter((f) => !f.dir && (BUILD_PACKAGE_FILE.test(f.path) || /^\/usr\/lib\/python\d/.test(f.path))).map((f) => f.path),
      [],
      'build tooling packages in the image',
    );
    const app = files.filter((f) => f.path.startsWith('/opt/netprobe/'));
    const testFiles = app.filter((f) =>
      /(^|\/)(test|tests|bench|__tests__)\/|\.test\.[cm]?[jt]s$|\.spec\.[cm]?[jt]s$/.test(f.path.slice(14)),
    );
    assert.deepEqual(
      testFiles.filter((f) => !f.path.startsWith('/opt/netprobe/node_modules/')).map((f) => f.path),
      [],
      "the project's tests",
    );
    assert.deepEqual(
      app.filter((f) => /^\/opt\/netprobe\/(src|test|bench|docs|deploy|scripts|\.git)(\/|$)/.test(f.path)).map((f) => f.path),
      [],
      'only package.json, dist, node_modules and the BPF object',
    );
    const modules = new Set(
      app.filter((f) => f.dir && /^\/opt\/netprobe\/node_modules\/(@[^/]+\/)?[^/@]+$/.test(f.path)).map((f) => f.path.slice(27)),
    );
    const { dependencies, devDependencies } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const dep of Object.keys(dependencies)) assert.ok(modules.has(dep), `dependency ${dep} is installed`);
    for (const dev of Object.keys(devDependencies)) assert.ok(!modules.has(dev), `devDependency ${dev} is not installed`);
    assert.deepEqual(
      await readFile(join(root, 'opt/netprobe/bpf/netprobe.bpf.o')),
      await readFile(join(REPO, 'bpf/netprobe.bpf.o')),
      'the committed BPF object',
    );
  });

  await t.test(
    "with the DaemonSet's RuntimeDefault seccomp, podman's default profile refuses bpf(2): exit 1, NP_ERR_SECCOMP",
    async (st) => {
      const { node } = await nodeNetwork(st);
      const name = `np-img-default-${process.pid}`;
      const spec = await translate(st, node, { seccomp: false, name });
      await podman.ok(['run', '--detach', ...spec.args]);
      st.after(() => podman.run(['rm', '--force', '--time', '0', name]));
      const code = Number((await podman.ok(['wait', name], { timeoutMs: 120_000 })).trim());
      const { stdout, stderr } = await podman.run(['logs', name]);
      const output = stdout + stderr;
      st.diagnostic(output.slice(-1500));
      assert.equal(code, 1, output);
      assert.match(output, /NP_ERR_SECCOMP/);
      assert.match(output, /seccomp/);
      assert.match(output, /deploy\/kubernetes\/seccomp\/netprobe\.json/);
      assert.deepEqual(await attachedInterfaces(node), [], 'nothing attached');
    },
  );

  await t.test('with the shipped seccomp profile: counts exactly, answers the probes, holds only the granted capabilities', async (st) => {
    const { node, peer, link } = await nodeNetwork(st);
    const name = `np-img-run-${process.pid}`;
    const spec = await translate(st, node, { seccomp: true, name });
    assert.deepEqual(spec.capabilities.drop, ['ALL']);
    assert.ok(spec.probes.length >= 2, 'readiness and liveness probes');
    const port = spec.probes[0]!.port;

    await podman.ok(['run', '--detach', ...spec.args]);
    st.after(() => podman.run(['rm', '--force', '--time', '0', name]));
    try {
      await waitFor('/health 200', 90_000, async () => ((await scrape(node, port, '/health')).status === 200 ? true : undefined));
    } catch (e) {
      const { stdout, stderr } = await podman.run(['logs', name]);
      throw new Error(`${(e as Error).message}\n${stdout}${stderr}`, { cause: e });
    }

    // The probes, as the kubelet asks them (from the node's network namespace, hostNetwork).
    for (const probe of spec.probes) {
      const r = await scrape(node, probe.port, probe.path);
      assert.equal(r.status, 200, `${probe.kind} probe ${probe.path}:${probe.port}`);
      assert.equal((JSON.parse(r.body) as { status: string }).status, 'ok');
    }

    // The process: only the granted capabilities, and of those what --capabilities.keep leaves.
    const pid = Number((await podman.ok(['inspect', '--format', '{{.State.Pid}}', name])).trim());
    const statusText = await readFile(`/proc/${pid}/status`, 'utf8');
    const caps = parseProcStatusCapabilities(statusText);
    const statusField = (field: string): string | undefined => new RegExp(`^${field}:\\s*(\\S+)`, 'm').exec(statusText)?.[1];
    const granted = spec.capabilities.add.sort();
    const keepArg = spec.args.find((a) => a.startsWith('--capabilities.keep='))?.split('=')[1];
    const keep = (keepArg === undefined ? [...DEFAULT_KEEP_CAPABILITIES] : keepArg.split(',')).map((c) =>
      c.toUpperCase().replace(/^CAP_/, ''),
    );
    assert.deepEqual(upperNames(caps.bounding), granted, 'bounding set = capabilities.add');
    assert.deepEqual(upperNames(caps.effective), granted.filter((c) => keep.includes(c)).sort(), 'effective set');
    assert.deepEqual(upperNames(caps.ambient), [], 'no ambient capabilities');
    assert.deepEqual(upperNames(caps.inheritable), [], 'no inheritable capabilities');
    assert.equal(statusField('NoNewPrivs'), '1', 'allowPrivilegeEscalation: false');
    assert.equal(statusField('Seccomp'), '2', 'a seccomp filter is in force');
    st.diagnostic(`CapEff ${upperNames(caps.effective).join(',')}, CapBnd ${upperNames(caps.bounding).join(',')}`);

    // Read-only root filesystem; the state volume is the one writable place.
    const write = (path: string): Promise<{ code: number; stderr: string }> =>
      podman.run(['exec', name, 'node', '-e', `require('fs').writeFileSync(${JSON.stringify(path)}, 'x')`]);
    const rootWrite = await write('/opt/netprobe/written-by-test');
    assert.notEqual(rootWrite.code, 0);
    assert.match(rootWrite.stderr, /EROFS|read-only file system/);
    assert.notEqual((await write('/tmp/written-by-test')).code, 0, 'no tmpfs on /tmp either (Kubernetes mounts none)');
    assert.equal((await write('/run/netprobe/written-by-test')).code, 0, 'the emptyDir volume is writable');

    // Real traffic: counters equal the kernel's statistics exactly.
    await waitFor(`${link.a} in /metrics`, 30_000, async () =>
      Number.isNaN(counters((await scrape(node, port)).body, link.a, 'ingress').packets) ? undefined : true,
    );
    assert.deepEqual(await attachedInterfaces(node), [link.a, 'lo'].sort(), 'attached to every interface of the node namespace');
    const countersEqualKernel = () =>
      waitFor('counters equal to the kernel', 40_000, async () => {
        const before = await node.linkStats(link.a);
        const body = (await scrape(node, port)).body;
        const afterStats = await node.linkStats(link.a);
        if (before.rx.packets !== afterStats.rx.packets || before.tx.packets !== afterStats.tx.packets) return undefined;
        const ours = { ingress: counters(body, link.a, 'ingress'), egress: counters(body, link.a, 'egress') };
        const kernel = {
          ingress: { packets: afterStats.rx.packets, bytes: afterStats.rx.bytes },
          egress: { packets: afterStats.tx.packets, bytes: afterStats.tx.bytes },
        };
        return JSON.stringify(ours) === JSON.stringify(kernel) ? { ours, kernel } : undefined;
      }).catch(async (e: unknown) => {
        const body = (await scrape(node, port)).body;
        const k = await node.linkStats(link.a);
        throw new Error(
          `${(e as Error).message}: ours ${JSON.stringify({ in: counters(body, link.a, 'ingress'), out: counters(body, link.a, 'egress') })} kernel rx ${JSON.stringify(k.rx)} tx ${JSON.stringify(k.tx)}`,
          { cause: e },
        );
      });
    await sendUdp(peer, link.addrA, 400, 300);
    const settled = await countersEqualKernel();
    assert.ok(settled.ours.ingress.packets >= 400, JSON.stringify(settled));
    assert.ok(settled.ours.egress.packets > 0, 'the ICMP port-unreachable answers (rate-limited by the kernel)');
    st.diagnostic(`counters ${JSON.stringify(settled.ours)} = kernel ${JSON.stringify(settled.kernel)}`);

    // SIGTERM within the grace period: exit 0 (a SIGKILL after the grace period would be 137).
    await podman.ok(['stop', '--time', String(spec.gracePeriodSeconds), name], { timeoutMs: (spec.gracePeriodSeconds + 30) * 1000 });
    const exitCode = Number((await podman.ok(['inspect', '--format', '{{.State.ExitCode}}', name])).trim());
    const { stdout, stderr } = await podman.run(['logs', name]);
    assert.equal(exitCode, 0, `${stdout}${stderr}`.slice(-2000));
    const pinArg = spec.args.find((a) => a.startsWith('--ebpf.pin-path='));
    if (!pinArg) {
      assert.deepEqual(await attachedInterfaces(node), [], 'nothing left attached after SIGTERM');
      return;
    }
    // With a pin path (as the DaemonSet runs): the programs stay attached and counting while the container is down.
    assert.deepEqual(await attachedInterfaces(node), [link.a, 'lo'].sort(), 'still attached after SIGTERM (pinned)');
    await sendUdp(peer, link.addrA, 200, 300);
    // The kubelet restarts the container: it adopts the pins, and the counters equal the kernel's again, downtime included.
    await podman.ok(['start', name]);
    await waitFor('/health 200 after the restart', 90_000, async () =>
      (await scrape(node, port, '/health')).status === 200 ? true : undefined,
    );
    const restarted = await countersEqualKernel();
    assert.ok(restarted.ours.ingress.packets >= settled.ours.ingress.packets + 200, JSON.stringify(restarted));
    const logs = await podman.run(['logs', name]);
    assert.match(logs.stdout + logs.stderr, /adopting the pinned eBPF state/);
    st.diagnostic(`after a restart: counters ${JSON.stringify(restarted.ours)} = kernel (the downtime's 200 datagrams included)`);
    await podman.ok(['stop', '--time', String(spec.gracePeriodSeconds), name], { timeoutMs: (spec.gracePeriodSeconds + 30) * 1000 });

    // The uninstall step of docs/deployment.md, run from the image with the DaemonSet's mounts: nothing of ours stays.
    const bpffs = /^type=bind,source=([^,]+),destination=\/sys\/fs\/bpf(,|$)/.exec(
      spec.args.find((a) => /destination=\/sys\/fs\/bpf(,|$)/.test(a)) ?? '',
    )?.[1];
    assert.ok(bpffs, 'the DaemonSet mounts /sys/fs/bpf');
    const image = spec.args.indexOf(IMAGE);
    const cleanupName = `${name}-cleanup`;
    const cleanupArgs = spec.args.slice(0, image + 1).map((a) => (a === name ? cleanupName : a));
    st.after(() => podman.run(['rm', '--force', '--time', '0', cleanupName]));
    const cleanup = await podman.run(['run', ...cleanupArgs, pinArg, '--ebpf.cleanup']);
    assert.equal(cleanup.code, 0, cleanup.stdout + cleanup.stderr);
    // The TC counters' directory and the drop meter's (on by default with the ebpf source).
    assert.match(cleanup.stdout + cleanup.stderr, /cleanup: removed 2 netprobe pin directories/);
    assert.match(cleanup.stdout + cleanup.stderr, /"removed":\[[^\]]*netprobe-drop-meter-[0-9a-f]+"[^\]]*netprobe-bpf-[0-9a-f]+"\]/);
    assert.deepEqual(await attachedInterfaces(node), [], 'nothing attached after the cleanup');
    const pinDir = join(bpffs, pinArg.slice('--ebpf.pin-path=/sys/fs/bpf/'.length));
    const left = await readdir(pinDir, { recursive: true }).catch((e: NodeJS.ErrnoException) =>
      e.code === 'ENOENT' ? [] : Promise.reject(e),
    );
    assert.deepEqual(left, [], `no pin left under ${pinArg}`);
  });
});
