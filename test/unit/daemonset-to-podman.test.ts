/**
 * The DaemonSet-to-podman translator (test/support/daemonset-to-podman.ts)
 * that the container image test runs the manifest with: on the real
 * deploy/kubernetes/daemonset.yaml (with and without the seccomp Component),
 * and on edited copies — hostPath volumes, hostPID, env — including the fields
 * it must refuse rather than silently drop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { daemonSetToPodman, cpuCores, memoryBytes, type TranslateOptions } from '../support/daemonset-to-podman.js';
import { loadDaemonSet, SECCOMP_DIR } from '../support/daemonset-manifest.js';

const OPTS: TranslateOptions = {
  image: 'localhost/netprobe-exporter:test',
  name: 'np',
  netnsPath: '/run/netns/t',
  seccompDir: '/profiles',
};

type Pod = { hostPID?: boolean; volumes: unknown[]; containers: Array<Record<string, unknown>>; [k: string]: unknown };
function podOf(ds: Record<string, unknown>): Pod {
  return (ds as { spec: { template: { spec: Pod } } }).spec.template.spec;
}

/** A stand-in for every hostPath the manifest mounts (the pod and restart features add some). */
function standIns(ds: Record<string, unknown>): Record<string, string> {
  const volumes = podOf(ds).volumes as Array<{ hostPath?: { path: string } }>;
  return Object.fromEntries(volumes.flatMap((v) => (v.hostPath ? [[v.hostPath.path, `/standin${v.hostPath.path}`]] : [])));
}

/** The value following `flag` in args (or undefined). */
function after(args: string[], flag: string): string | undefined {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
}

test('the shipped DaemonSet: host network, only BPF, NET_ADMIN and PERFMON, read-only root, root user, args after the image', async () => {
  const ds = await loadDaemonSet();
  const spec = daemonSetToPodman(ds, { ...OPTS, hostPaths: standIns(ds) });
  const { args } = spec;
  assert.equal(after(args, '--network'), 'ns:/run/netns/t');
  assert.ok(args.includes('--cap-drop=ALL'));
  assert.ok(args.includes('--cap-add=BPF,NET_ADMIN,PERFMON'));
  assert.deepEqual(spec.capabilities, { drop: ['ALL'], add: ['BPF', 'NET_ADMIN', 'PERFMON'] });
  assert.ok(args.includes('--read-only') && args.includes('--read-only-tmpfs=false'));
  assert.equal(after(args, '--user'), '0');
  assert.equal(after(args, '--security-opt'), 'no-new-privileges');
  assert.ok(!args.some((a) => a.startsWith('seccomp=')), 'RuntimeDefault: podman uses its own default profile');
  assert.ok(args.includes(`type=tmpfs,destination=/run/netprobe,tmpfs-size=${1024 * 1024}`), 'the state emptyDir');
  for (const [path, standIn] of Object.entries(standIns(ds)))
    assert.ok(
      args.some((a) => a.startsWith(`type=bind,source=${standIn},`)),
      `hostPath ${path} bound from its stand-in`,
    );
  assert.equal(after(args, '--memory'), String(256 * 1024 * 1024));
  assert.equal(after(args, '--cpus'), '1', 'limits.cpu "1"');
  assert.equal(after(args, '--stop-timeout'), '30');
  assert.equal(spec.gracePeriodSeconds, 30);
  const image = args.indexOf(OPTS.image);
  assert.ok(image > 0);
  assert.deepEqual(args.slice(image + 1), podOf(ds).containers[0]!['args'], "the container's args, after the image");
  assert.ok(args.slice(image + 1).includes('--source=ebpf'));
  assert.deepEqual(
    spec.probes.map((p) => [p.kind, p.path, p.port]),
    [
      ['readiness', '/health', 8081],
      ['liveness', '/health', 8081],
    ],
  );
});

test('with the seccomp Component: the Localhost profile from the profile directory', async () => {
  const ds = await loadDaemonSet({ seccomp: true });
  const { args } = daemonSetToPodman(ds, { ...OPTS, seccompDir: SECCOMP_DIR, hostPaths: standIns(ds) });
  assert.ok(args.includes(`seccomp=${SECCOMP_DIR.replace(/\/$/, '')}/netprobe.json`), args.join(' '));
});

test('hostPID, hostPath volumes (with their stand-ins), env and a command are translated', async () => {
  const ds = await loadDaemonSet();
  const pod = podOf(ds);
  pod.hostPID = true;
  // Only the manifest's own emptyDir is kept: the hostPaths below are this test's.
  pod.volumes = pod.volumes.filter((v) => (v as { name: string }).name === 'state');
  pod.volumes.push({ name: 'bpffs', hostPath: { path: '/sys/fs/bpf', type: 'Directory' } });
  pod.volumes.push({ name: 'pods', hostPath: { path: '/var/log/pods' } });
  const c = pod.containers[0]!;
  c['volumeMounts'] = [
    ...(c['volumeMounts'] as Array<{ name: string }>).filter((m) => m.name === 'state'),
    { name: 'bpffs', mountPath: '/sys/fs/bpf', mountPropagation: 'HostToContainer' },
    { name: 'pods', mountPath: '/var/log/pods', readOnly: true },
  ];
  c['env'] = [
    { name: 'NETPROBE_LOG_LEVEL', value: 'debug' },
    { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
  ];
  c['command'] = ['node', '/opt/netprobe/dist/cli/main.js'];
  const { args } = daemonSetToPodman(ds, {
    ...OPTS,
    hostPaths: { '/sys/fs/bpf': '/tmp/bpffs', '/var/log/pods': '/tmp/pods' },
    fieldRefs: { 'spec.nodeName': 'node-1' },
  });
  assert.equal(after(args, '--pid'), 'host');
  assert.ok(args.includes('type=bind,source=/tmp/bpffs,destination=/sys/fs/bpf,bind-propagation=rslave'), args.join(' '));
  assert.ok(args.includes('type=bind,source=/tmp/pods,destination=/var/log/pods,ro'));
  assert.ok(args.includes('NETPROBE_LOG_LEVEL=debug') && args.includes('NODE_NAME=node-1'));
  assert.equal(after(args, '--entrypoint'), '["node","/opt/netprobe/dist/cli/main.js"]');
});

test('what it cannot run as the node would is refused, naming the field', async () => {
  const cases: Array<[string, (ds: Record<string, unknown>) => void, RegExp]> = [
    [
      'a hostPath without a stand-in',
      (ds) => {
        const pod = podOf(ds);
        pod.volumes.push({ name: 'x', hostPath: { path: '/var/lib/x' } });
        pod.containers[0]!['volumeMounts'] = [{ name: 'x', mountPath: '/x' }];
      },
      /hostPath \/var\/lib\/x .*no test stand-in/,
    ],
    ['an unknown container field', (ds) => void (podOf(ds).containers[0]!['lifecycle'] = {}), /lifecycle not translated/],
    [
      'an unknown security field',
      (ds) => {
        (podOf(ds).containers[0]!['securityContext'] as Record<string, unknown>)['procMount'] = 'Unmasked';
      },
      /procMount not translated/,
    ],
    ['a pod without hostNetwork', (ds) => void (podOf(ds).hostNetwork = false), /only hostNetwork/],
    ['a service account token', (ds) => void (podOf(ds).automountServiceAccountToken = true), /service account token/],
    ['another image', (ds) => void (podOf(ds).containers[0]!['image'] = 'nginx:1'), /not netprobe-exporter/],
  ];
  for (const [what, edit, error] of cases) {
    const ds = await loadDaemonSet();
    edit(ds);
    assert.throws(() => daemonSetToPodman(ds, OPTS), error, what);
  }
});

test('Kubernetes quantities', () => {
  assert.equal(memoryBytes('256Mi'), 268435456);
  assert.equal(memoryBytes('1Gi'), 1073741824);
  assert.equal(memoryBytes('500M'), 500e6);
  assert.equal(cpuCores('250m'), 0.25);
  assert.equal(cpuCores('2'), 2);
  assert.throws(() => memoryBytes('lots'), /memory quantity/);
});
