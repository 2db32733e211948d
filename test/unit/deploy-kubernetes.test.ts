/**
 * The Kubernetes manifests under deploy/kubernetes/: each one validated
 * against the Kubernetes API schemas (kubernetes-models, and the Prometheus
 * Operator's CRD schemas), and checked against each other and against the
 * exporter's real flags and defaults — the DaemonSet's args go through the real
 * configuration loader, so an unknown or invalid flag fails here, not on a node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { PodMonitor, PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DEFAULT_STATE_DIR } from '../../src/bpf/tc-counter/clsact-state.js';
import { DEFAULT_SERVER_CONFIG } from '../../src/config/exporter-config.js';
import { loadConfig } from '../../src/config/load-config.js';
import { DEPLOY_DIR, loadRules } from '../support/deploy-artefacts.js';

const KUBERNETES_DIR = join(DEPLOY_DIR, 'kubernetes');

/** The models a manifest may be, by `apiVersion/kind`. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'apps/v1/DaemonSet': DaemonSet,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PodMonitor': PodMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
}
interface Kustomization {
  namespace: string;
  resources: string[];
  images: Array<{ name: string; newTag?: string }>;
}

async function readManifests(): Promise<Map<string, Manifest>> {
  const files = (await readdir(KUBERNETES_DIR)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  const manifests = new Map<string, Manifest>();
  for (const file of files) manifests.set(file, parseYaml(await readFile(join(KUBERNETES_DIR, file), 'utf8')) as Manifest);
  return manifests;
}

async function readKustomization(): Promise<Kustomization> {
  return parseYaml(await readFile(join(KUBERNETES_DIR, 'kustomization.yaml'), 'utf8')) as Kustomization;
}

function only<T extends Manifest>(manifests: Map<string, Manifest>, kind: string): T {
  const found = [...manifests.values()].filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0] as T;
}

interface DaemonSetShape extends Manifest {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: {
        hostNetwork?: boolean;
        tolerations?: Array<{ key?: string; operator?: string; effect?: string }>;
        volumes?: unknown[];
        containers: IContainer[];
        automountServiceAccountToken?: boolean;
        serviceAccountName?: string;
      };
    };
  };
}
interface ServiceShape extends Manifest {
  spec: { selector: Record<string, string>; ports: Array<{ name: string; port: number; targetPort: string | number }> };
}
interface MonitorEndpoint {
  port: string;
  path: string;
  interval: string;
  scrapeTimeout: string;
}
interface ServiceMonitorShape extends Manifest {
  spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: MonitorEndpoint[] };
}
interface PodMonitorShape extends Manifest {
  spec: { selector: { matchLabels: Record<string, string> }; jobLabel: string; podMetricsEndpoints: MonitorEndpoint[] };
}

function netprobeContainer(ds: DaemonSetShape): IContainer {
  const [container, ...others] = ds.spec.template.spec.containers;
  assert.ok(container, 'the DaemonSet has a container');
  assert.equal(others.length, 0, 'one container');
  return container;
}

/** Whether every `selector` label is among `labels`. */
function selects(selector: Record<string, string>, labels: Record<string, string> | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v) && Object.keys(selector).length > 0;
}

test('every manifest is valid against the Kubernetes (and Prometheus Operator) API schemas', async () => {
  const manifests = await readManifests();
  assert.ok(manifests.size >= 6, `${manifests.size} manifests`);
  for (const [file, manifest] of manifests) {
    const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
    assert.ok(Model, `${file}: no model for ${manifest.apiVersion} ${manifest.kind}`);
    assert.doesNotThrow(() => new Model(manifest as never).validate(), `${file} validates`);
    assert.equal(manifest.metadata.labels?.['app.kubernetes.io/name'], 'netprobe', `${file} is labelled`);
  }
});

test('the schema validation can fail: a wrongly typed field is rejected', async () => {
  const ds = only<DaemonSetShape>(await readManifests(), 'DaemonSet');
  const broken = structuredClone(ds);
  (netprobeContainer(broken).ports as Array<{ containerPort: unknown }>)[0]!.containerPort = 'eighty-eighty-one';
  assert.throws(() => new DaemonSet(broken as never).validate(), /containerPort must be integer/);
});

test('kustomization.yaml lists every manifest but the alternative PodMonitor, in its namespace', async () => {
  const kustomization = await readKustomization();
  const manifests = await readManifests();
  assert.deepEqual([...kustomization.resources].sort(), [...manifests.keys()].filter((f) => f !== 'podmonitor.yaml').sort());
  for (const [file, manifest] of manifests) {
    if (manifest.kind === 'Namespace') assert.equal(manifest.metadata.name, kustomization.namespace, file);
    else assert.equal(manifest.metadata.namespace, kustomization.namespace, file);
  }
  const ds = only<DaemonSetShape>(manifests, 'DaemonSet');
  const image = netprobeContainer(ds).image ?? '';
  const [imageName, imageTag] = image.split(':');
  const retag = kustomization.images.find((i) => i.name === imageName);
  assert.ok(retag, `kustomize can retag ${image}`);
  // The manifests deploy the version this tree builds.
  const { version } = JSON.parse(await readFile(join(DEPLOY_DIR, '..', 'package.json'), 'utf8')) as { version: string };
  assert.equal(imageTag, version);
  assert.equal(retag.newTag, version);
});

test('the DaemonSet runs on every node in the host network, unprivileged, with only BPF, NET_ADMIN and PERFMON', async () => {
  const ds = only<DaemonSetShape>(await readManifests(), 'DaemonSet');
  const pod = ds.spec.template.spec;
  assert.ok(selects(ds.spec.selector.matchLabels, ds.spec.template.metadata.labels), 'selector matches the pod template');
  assert.equal(pod.hostNetwork, true);
  assert.ok(
    pod.tolerations?.some((t) => t.operator === 'Exists' && t.key === undefined && t.effect === undefined),
    'tolerates every taint',
  );
  assert.equal(pod.automountServiceAccountToken, false, 'no API token: netprobe never talks to the API server');
  // One in-memory volume where the loader keeps its clsact state, and the pod log directory
  // (read-only, its names give pods their namespace and name: --collector.pods).
  assert.deepEqual(pod.volumes, [
    { name: 'state', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    { name: 'pod-logs', hostPath: { path: '/var/log/pods', type: 'Directory' } },
    // The container log links (their names name containers) and the host's cgroup v2 tree (the socket meter).
    { name: 'container-logs', hostPath: { path: '/var/log/containers', type: 'Directory' } },
    { name: 'cgroup2', hostPath: { path: '/sys/fs/cgroup', type: 'Directory' } },
    // The host's bpffs, for --ebpf.pin-path (counting survives restarts and upgrades).
    { name: 'bpffs', hostPath: { path: '/sys/fs/bpf', type: 'Directory' } },
  ]);
  assert.equal((pod as { hostPID?: boolean }).hostPID, true, "pod labels find pods' processes in the host's /proc");

  const container = netprobeContainer(ds);
  const sc = container.securityContext;
  assert.equal(sc?.privileged, false);
  assert.equal(sc?.allowPrivilegeEscalation, false);
  assert.equal(sc?.readOnlyRootFilesystem, true);
  assert.deepEqual(sc?.capabilities?.drop, ['ALL']);
  assert.deepEqual([...(sc?.capabilities?.add ?? [])].sort(), ['BPF', 'NET_ADMIN', 'PERFMON']);

  assert.deepEqual(
    container.volumeMounts,
    [
      { name: 'state', mountPath: DEFAULT_STATE_DIR },
      { name: 'pod-logs', mountPath: '/var/log/pods', readOnly: true },
      { name: 'container-logs', mountPath: '/var/log/containers', readOnly: true },
      { name: 'cgroup2', mountPath: '/sys/fs/cgroup', readOnly: true },
      { name: 'bpffs', mountPath: '/sys/fs/bpf', mountPropagation: 'HostToContainer' },
    ],
    'state where the loader writes; the log directories and the cgroup tree read-only',
  );

  for (const kind of ['requests', 'limits'] as const) {
    for (const resource of ['cpu', 'memory']) assert.ok(container.resources?.[kind]?.[resource], `${kind}.${resource}`);
  }
});

test("the DaemonSet's args are real flags: loaded by the exporter's own config loader", async () => {
  const container = netprobeContainer(only<DaemonSetShape>(await readManifests(), 'DaemonSet'));
  const argv = [...(container.command ?? []).slice(1), ...(container.args ?? [])];
  const noFile = (): string => {
    throw new Error('no config file in the DaemonSet');
  };
  const loaded = loadConfig({ argv, env: {}, readFile: noFile });
  assert.ok(loaded.ok, `args rejected: ${loaded.ok ? '' : loaded.problems.map((p) => `${p.field}=${p.value}: ${p.message}`).join('; ')}`);
  assert.equal(loaded.command, 'run');
  assert.equal(loaded.settings.source, 'ebpf', '--source=ebpf: a missing privilege fails loudly');

  // The loader really rejects what it does not know (so the check above means something).
  const bogus = loadConfig({ argv: [...argv, '--web.listen-adress=:9'], env: {}, readFile: noFile });
  assert.equal(bogus.ok, false);

  const ports = container.ports ?? [];
  const metrics = ports.find((p) => p.name === 'metrics');
  assert.equal(metrics?.containerPort, loaded.exporter.server.port, 'containerPort is the port it listens on');
  assert.equal(metrics?.containerPort, DEFAULT_SERVER_CONFIG.port, 'and that is the default port');
  for (const [name, probe] of [
    ['readiness', container.readinessProbe],
    ['liveness', container.livenessProbe],
  ] as const) {
    assert.equal(probe?.httpGet?.path, '/health', `${name} probe path`);
    assert.equal(probe?.httpGet?.port, 'metrics', `${name} probe port`);
    assert.ok((probe?.timeoutSeconds ?? 1) < (probe?.periodSeconds ?? 10), `${name} probe times out before the next one`);
  }
});

test('the Service and ServiceMonitor select the DaemonSet and scrape its metrics path', async () => {
  const manifests = await readManifests();
  const ds = only<DaemonSetShape>(manifests, 'DaemonSet');
  const container = netprobeContainer(ds);
  const loaded = loadConfig({ argv: container.args ?? [], env: {}, readFile: () => '' });
  assert.ok(loaded.ok);
  const service = only<ServiceShape>(manifests, 'Service');
  assert.ok(selects(service.spec.selector, ds.spec.template.metadata.labels), 'Service selects the pods');
  const servicePort = service.spec.ports.find((p) => p.name === 'metrics');
  assert.equal(servicePort?.targetPort, 'metrics');
  assert.equal(servicePort?.port, loaded.exporter.server.port);

  const monitor = only<ServiceMonitorShape>(manifests, 'ServiceMonitor');
  assert.ok(selects(monitor.spec.selector.matchLabels, service.metadata.labels), 'ServiceMonitor selects the Service');
  assert.deepEqual(monitor.spec.namespaceSelector.matchNames, [service.metadata.namespace]);
  // The job label is the Service's name; the rules select job="netprobe".
  assert.equal(service.metadata.name, 'netprobe');
  const podMonitor = only<PodMonitorShape>(manifests, 'PodMonitor');
  assert.ok(selects(podMonitor.spec.selector.matchLabels, ds.spec.template.metadata.labels), 'PodMonitor selects the pods');
  assert.equal(ds.spec.template.metadata.labels[podMonitor.spec.jobLabel], 'netprobe', 'PodMonitor job label is netprobe too');

  for (const endpoint of [...monitor.spec.endpoints, ...podMonitor.spec.podMetricsEndpoints]) {
    assert.equal(endpoint.port, 'metrics');
    assert.equal(endpoint.path, loaded.exporter.server.path);
  }
});

test('prometheusrule.yaml carries exactly the groups of deploy/prometheus/netprobe-rules.yml', async () => {
  const rule = only<Manifest & { spec: unknown }>(await readManifests(), 'PrometheusRule');
  assert.deepEqual(
    rule.spec,
    await loadRules(),
    'out of sync: copy the groups of deploy/prometheus/netprobe-rules.yml into spec of deploy/kubernetes/prometheusrule.yaml',
  );
});
