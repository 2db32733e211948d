/**
 * Translates the DaemonSet's netprobe container (deploy/kubernetes/daemonset.yaml,
 * or kustomize's output) into `podman run` flags, so the image test runs the
 * container with the manifest's own settings and cannot drift from it.
 *
 * Pure: no I/O. Every field of the pod spec, the container and their security
 * contexts is either translated, listed as scheduling-only (nothing to run),
 * or refused with an error naming it — a new field in the manifest fails the
 * test until this file says what it means for the container.
 *
 * Host state the node would share (hostPath volumes, the node's network) is
 * replaced by what the caller supplies: a test network namespace, and a
 * stand-in directory per hostPath (e.g. a private bpffs for /sys/fs/bpf).
 */

export interface TranslateOptions {
  /** The image to run (the manifest's own name is checked, its registry/tag replaced). */
  image: string;
  /** Container name. */
  name: string;
  /** Network namespace standing in for the node's (hostNetwork), e.g. /run/netns/np-1. */
  netnsPath: string;
  /** Directory holding Localhost seccomp profiles (the kubelet's /var/lib/kubelet/seccomp). */
  seccompDir: string;
  /** The stand-in for each hostPath volume's path; a hostPath without one is refused. */
  hostPaths?: Record<string, string>;
  /** Values for env `valueFrom.fieldRef` (e.g. spec.nodeName). */
  fieldRefs?: Record<string, string>;
}

export interface HttpProbe {
  kind: 'readiness' | 'liveness' | 'startup';
  path: string;
  port: number;
  scheme: 'HTTP' | 'HTTPS';
}

export interface PodmanRunSpec {
  /** Everything after `podman run`: flags, the image, then the container's args. */
  args: string[];
  probes: HttpProbe[];
  /** terminationGracePeriodSeconds (Kubernetes' default 30). */
  gracePeriodSeconds: number;
  /** The capability names the container is granted (upper case, no CAP_ prefix). */
  capabilities: { drop: string[]; add: string[] };
  /** What the translation left out on purpose and why (printed by the test). */
  notes: string[];
}

type Obj = Record<string, unknown>;

/** Pod-level fields that only decide where and how a pod is scheduled or updated: nothing to run. */
const SCHEDULING_ONLY = new Set(['tolerations', 'nodeSelector', 'affinity', 'priorityClassName', 'serviceAccountName', 'dnsPolicy']);

class UnsupportedError extends Error {}

function obj(value: unknown, where: string): Obj {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new UnsupportedError(`${where}: expected an object`);
  return value as Obj;
}

/** A scalar field as text (undefined/null: empty); an object where a scalar belongs is refused. */
function str(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return `${value}`;
  if (value === undefined || value === null) return '';
  throw new UnsupportedError(`expected a scalar, got ${JSON.stringify(value)}`);
}

function refuseUnknown(o: Obj, known: string[], where: string): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0)
    throw new UnsupportedError(`${where}: ${unknown.join(', ')} not translated to podman (test/support/daemonset-to-podman.ts)`);
}

/** Kubernetes quantities as podman wants them: `256Mi` -> `256m` bytes-ish strings, `250m` CPU -> 0.25. */
export function memoryBytes(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(quantity);
  if (!m) throw new UnsupportedError(`memory quantity ${quantity}`);
  const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 };
  return Math.round(Number(m[1]) * (m[2] ? (units[m[2]] ?? 1) : 1));
}

export function cpuCores(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(quantity);
  if (!m) throw new UnsupportedError(`cpu quantity ${quantity}`);
  return Number(m[1]) / (m[2] ? 1000 : 1);
}

function capName(name: string): string {
  return name.toUpperCase().replace(/^CAP_/, '');
}

function seccompFlags(profile: Obj, opts: TranslateOptions, where: string): string[] {
  refuseUnknown(profile, ['type', 'localhostProfile'], where);
  switch (profile['type']) {
    case undefined:
      return [];
    case 'RuntimeDefault':
      return []; // podman's own default profile, as CRI-O's (both from containers/common)
    case 'Unconfined':
      return ['--security-opt', 'seccomp=unconfined'];
    case 'Localhost': {
      const file = str(profile['localhostProfile']);
      if (!file || file.startsWith('/') || file.includes('..')) throw new UnsupportedError(`${where}.localhostProfile: ${file}`);
      return ['--security-opt', `seccomp=${opts.seccompDir.replace(/\/$/, '')}/${file}`];
    }
    default:
      throw new UnsupportedError(`${where}.type: ${str(profile['type'])}`);
  }
}

/** Translates the DaemonSet's container named `containerName` (default: the only one). */
export function daemonSetToPodman(daemonSet: unknown, opts: TranslateOptions, containerName = 'netprobe'): PodmanRunSpec {
  const ds = obj(daemonSet, 'DaemonSet');
  if (ds['kind'] !== 'DaemonSet') throw new UnsupportedError(`expected a DaemonSet, got ${str(ds['kind'])}`);
  const pod = obj(obj(obj(ds['spec'], 'spec')['template'], 'spec.template')['spec'], 'spec.template.spec');
  const args: string[] = ['--name', opts.name, '--pull', 'never'];
  const notes: string[] = [];

  refuseUnknown(
    pod,
    [
      ...SCHEDULING_ONLY,
      'containers',
      'volumes',
      'hostNetwork',
      'hostPID',
      'securityContext',
      'terminationGracePeriodSeconds',
      'automountServiceAccountToken',
    ],
    'pod spec',
  );
  if (pod['initContainers'] !== undefined) throw new UnsupportedError('pod spec: initContainers');

  // The node's network namespace: a test namespace with veths.
  if (pod['hostNetwork'] !== true) throw new UnsupportedError('pod spec: only hostNetwork pods are translated');
  args.push('--network', `ns:${opts.netnsPath}`);
  if (pod['hostPID'] === true) args.push('--pid', 'host');
  if (pod['automountServiceAccountToken'] !== false)
    throw new UnsupportedError('pod spec: a service account token would be mounted; the test has none to give');

  const podSecurity = obj(pod['securityContext'], 'pod securityContext');
  refuseUnknown(podSecurity, ['seccompProfile', 'runAsUser', 'runAsGroup', 'runAsNonRoot', 'fsGroup'], 'pod securityContext');
  if (podSecurity['fsGroup'] !== undefined) notes.push('fsGroup: podman does not chown volumes; none of the volumes needs it');

  const containers = pod['containers'] as unknown[];
  const container = obj(
    containers.map((c) => obj(c, 'container')).find((c) => c['name'] === containerName),
    `container ${containerName}`,
  );
  refuseUnknown(
    container,
    [
      'name',
      'image',
      'imagePullPolicy',
      'command',
      'args',
      'env',
      'ports',
      'readinessProbe',
      'livenessProbe',
      'startupProbe',
      'resources',
      'volumeMounts',
      'securityContext',
    ],
    `container ${containerName}`,
  );
  const image = str(container['image']);
  if (!/(^|\/)netprobe-exporter(:|@|$)/.test(image)) throw new UnsupportedError(`container image ${image} is not netprobe-exporter`);

  // Security: the container's settings win over the pod's (as in Kubernetes).
  const sc = obj(container['securityContext'], 'container securityContext');
  refuseUnknown(
    sc,
    [
      'privileged',
      'allowPrivilegeEscalation',
      'readOnlyRootFilesystem',
      'runAsUser',
      'runAsGroup',
      'runAsNonRoot',
      'capabilities',
      'seccompProfile',
    ],
    'container securityContext',
  );
  const merged = { ...podSecurity, ...sc };
  if (merged['privileged'] === true) args.push('--privileged');
  if (merged['allowPrivilegeEscalation'] === false) args.push('--security-opt', 'no-new-privileges');
  // Kubernetes mounts no tmpfs of its own on a read-only root; podman would (/tmp, /run) without the second flag.
  if (merged['readOnlyRootFilesystem'] === true) args.push('--read-only', '--read-only-tmpfs=false');
  const user = merged['runAsUser'];
  const group = merged['runAsGroup'];
  if (user !== undefined) args.push('--user', group === undefined ? str(user) : `${str(user)}:${str(group)}`);
  else if (group !== undefined) throw new UnsupportedError('runAsGroup without runAsUser');
  if (merged['runAsNonRoot'] === true && (user === undefined || user === 0))
    throw new UnsupportedError('runAsNonRoot with user 0 or the image user: Kubernetes would refuse to start it');
  const caps = obj(merged['capabilities'], 'capabilities');
  refuseUnknown(caps, ['add', 'drop'], 'capabilities');
  const drop = ((caps['drop'] as string[] | undefined) ?? []).map(capName);
  const add = ((caps['add'] as string[] | undefined) ?? []).map(capName);
  if (drop.length > 0) args.push(`--cap-drop=${drop.join(',')}`);
  if (add.length > 0) args.push(`--cap-add=${add.join(',')}`);
  if (drop.length === 0) notes.push('no capabilities.drop: podman and the CRI runtimes differ in their default sets');
  args.push(...seccompFlags(obj(merged['seccompProfile'], 'seccompProfile'), opts, 'seccompProfile'));

  // Resources: the limits are what the kernel enforces (requests only schedule).
  const resources = obj(container['resources'], 'resources');
  refuseUnknown(resources, ['requests', 'limits'], 'resources');
  const limits = obj(resources['limits'], 'resources.limits');
  refuseUnknown(limits, ['cpu', 'memory'], 'resources.limits');
  if (typeof limits['memory'] === 'string') args.push('--memory', str(memoryBytes(limits['memory'])));
  if (typeof limits['cpu'] === 'string') args.push('--cpus', str(cpuCores(limits['cpu'])));

  // Volumes.
  const volumes = new Map(
    ((pod['volumes'] as unknown[] | undefined) ?? []).map((v) => {
      const o = obj(v, 'volume');
      return [str(o['name']), o] as const;
    }),
  );
  for (const m of (container['volumeMounts'] as unknown[] | undefined) ?? []) {
    const mount = obj(m, 'volumeMount');
    refuseUnknown(mount, ['name', 'mountPath', 'readOnly', 'mountPropagation'], 'volumeMount');
    const name = str(mount['name']);
    const dest = str(mount['mountPath']);
    const volume = volumes.get(name);
    if (!volume) throw new UnsupportedError(`volumeMount ${name}: no such volume`);
    const ro = mount['readOnly'] === true ? ',ro' : '';
    if (volume['emptyDir'] !== undefined) {
      const emptyDir = obj(volume['emptyDir'], `volume ${name}.emptyDir`);
      refuseUnknown(emptyDir, ['medium', 'sizeLimit'], `volume ${name}.emptyDir`);
      if (emptyDir['medium'] === 'Memory') {
        const size = typeof emptyDir['sizeLimit'] === 'string' ? `,tmpfs-size=${memoryBytes(emptyDir['sizeLimit'])}` : '';
        args.push('--mount', `type=tmpfs,destination=${dest}${size}${ro}`);
      } else {
        args.push('--mount', `type=volume,destination=${dest}${ro}`);
      }
    } else if (volume['hostPath'] !== undefined) {
      const hostPath = obj(volume['hostPath'], `volume ${name}.hostPath`);
      refuseUnknown(hostPath, ['path', 'type'], `volume ${name}.hostPath`);
      const path = str(hostPath['path']);
      const standIn = opts.hostPaths?.[path];
      if (standIn === undefined) throw new UnsupportedError(`hostPath ${path} (volume ${name}) has no test stand-in`);
      const propagation: Record<string, string> = {
        HostToContainer: ',bind-propagation=rslave',
        Bidirectional: ',bind-propagation=rshared',
      };
      const prop = mount['mountPropagation'] === undefined ? '' : (propagation[str(mount['mountPropagation'])] ?? '');
      args.push('--mount', `type=bind,source=${standIn},destination=${dest}${ro}${prop}`);
    } else {
      throw new UnsupportedError(`volume ${name}: only emptyDir and hostPath are translated`);
    }
  }

  // Environment.
  for (const e of (container['env'] as unknown[] | undefined) ?? []) {
    const env = obj(e, 'env');
    refuseUnknown(env, ['name', 'value', 'valueFrom'], 'env');
    const name = str(env['name']);
    if (env['valueFrom'] !== undefined) {
      const from = obj(env['valueFrom'], `env ${name}.valueFrom`);
      refuseUnknown(from, ['fieldRef'], `env ${name}.valueFrom`);
      const field = str(obj(from['fieldRef'], `env ${name}.fieldRef`)['fieldPath']);
      const value = opts.fieldRefs?.[field];
      if (value === undefined) throw new UnsupportedError(`env ${name}: fieldRef ${field} has no test value`);
      args.push('--env', `${name}=${value}`);
    } else {
      args.push('--env', `${name}=${str(env['value'])}`);
    }
  }

  // Probes: the test asks them itself, as the kubelet would.
  const ports = new Map<string, number>();
  for (const p of (container['ports'] as unknown[] | undefined) ?? []) {
    const port = obj(p, 'port');
    if (typeof port['name'] === 'string') ports.set(port['name'], Number(port['containerPort']));
  }
  const probes: HttpProbe[] = [];
  for (const kind of ['readiness', 'liveness', 'startup'] as const) {
    const probe = container[`${kind}Probe`];
    if (probe === undefined) continue;
    const httpGet = obj(obj(probe, `${kind}Probe`)['httpGet'], `${kind}Probe.httpGet`);
    const rawPort = httpGet['port'];
    const port = typeof rawPort === 'number' ? rawPort : ports.get(str(rawPort));
    if (port === undefined || httpGet['path'] === undefined)
      throw new UnsupportedError(`${kind}Probe: only httpGet probes with a known port`);
    probes.push({ kind, path: str(httpGet['path']), port, scheme: httpGet['scheme'] === 'HTTPS' ? 'HTTPS' : 'HTTP' });
  }

  const gracePeriodSeconds = typeof pod['terminationGracePeriodSeconds'] === 'number' ? pod['terminationGracePeriodSeconds'] : 30;
  args.push('--stop-timeout', str(gracePeriodSeconds));

  const command = container['command'] as string[] | undefined;
  if (command !== undefined) args.push('--entrypoint', JSON.stringify(command));
  args.push(opts.image, ...((container['args'] as string[] | undefined) ?? []).map(String));
  return { args, probes, gracePeriodSeconds, capabilities: { drop, add }, notes };
}

export { UnsupportedError as DaemonSetTranslationError };
