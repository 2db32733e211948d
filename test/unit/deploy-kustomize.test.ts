/**
 * `kubectl kustomize deploy/kubernetes` builds, and what it builds passes the
 * same Kubernetes API schemas as the manifests themselves
 * (deploy-kubernetes.test.ts); so does the base with the seccomp Component
 * added as docs/deployment.md says (components: [seccomp]), whose only change
 * is the DaemonSet's Localhost seccomp profile. Needs kubectl (the test
 * profile of scripts/install.sh installs Debian's kubernetes-client when
 * there is none); Components need kubectl 1.21+ (kustomize 3.7+).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { DEPLOY_DIR, withTempDir } from '../support/deploy-artefacts.js';
import { loadDaemonSet } from '../support/daemonset-manifest.js';

const run = promisify(execFile);
const KUBERNETES_DIR = join(DEPLOY_DIR, 'kubernetes');

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'apps/v1/DaemonSet': DaemonSet,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: { spec?: { securityContext?: unknown } } };
}

async function kustomize(dir: string): Promise<Doc[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], { timeout: 60_000, maxBuffer: 16 << 20 }).catch(
    (e: Error & { stderr?: string }) => {
      throw new Error(
        `kubectl kustomize ${dir} failed (kubectl from scripts/install.sh test; Components need 1.21+): ${e.stderr ?? e.message}`,
      );
    },
  );
  return parseAllDocuments(stdout).map((d) => d.toJS() as Doc);
}

function validateAll(docs: Doc[]): void {
  for (const doc of docs) {
    const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
    assert.ok(Model, `no model for ${doc.apiVersion} ${doc.kind}`);
    assert.doesNotThrow(() => new Model(doc as never).validate(), `${doc.kind} ${doc.metadata.name} validates`);
    if (doc.kind !== 'Namespace') assert.equal(doc.metadata.namespace, 'netprobe', `${doc.kind} ${doc.metadata.name} namespace`);
  }
}

test('kubectl kustomize deploy/kubernetes builds every manifest, valid against the API schemas', async () => {
  const docs = await kustomize(KUBERNETES_DIR);
  assert.deepEqual(docs.map((d) => d.kind).sort(), [
    'DaemonSet',
    'Namespace',
    'PrometheusRule',
    'Service',
    'ServiceAccount',
    'ServiceMonitor',
  ]);
  validateAll(docs);
  const ds = docs.find((d) => d.kind === 'DaemonSet');
  assert.deepEqual(ds?.spec?.template?.spec?.securityContext, { seccompProfile: { type: 'RuntimeDefault' } });
});

test('with the seccomp Component added: valid, and only the seccomp profile changes (to the shipped Localhost one)', async () => {
  const base = await kustomize(KUBERNETES_DIR);
  await withTempDir(async (dir) => {
    const copy = join(dir, 'kubernetes');
    await cp(KUBERNETES_DIR, copy, { recursive: true });
    await appendFile(join(copy, 'kustomization.yaml'), '\ncomponents:\n  - seccomp\n');
    const docs = await kustomize(copy);
    validateAll(docs);
    const ds = docs.find((d) => d.kind === 'DaemonSet')!;
    assert.deepEqual(ds.spec?.template?.spec?.securityContext, {
      seccompProfile: { type: 'Localhost', localhostProfile: 'netprobe.json' },
    });
    // What the image test runs (the Component applied without kustomize) is what kustomize builds.
    const direct = (await loadDaemonSet({ seccomp: true })) as unknown as Doc;
    assert.deepEqual(ds.spec?.template?.spec?.securityContext, direct.spec?.template?.spec?.securityContext);
    // Everything else is the base's.
    const baseDs = structuredClone(base.find((d) => d.kind === 'DaemonSet')!);
    baseDs.spec!.template!.spec!.securityContext = ds.spec?.template?.spec?.securityContext;
    assert.deepEqual(ds, baseDs);
    assert.deepEqual(
      docs.filter((d) => d.kind !== 'DaemonSet'),
      base.filter((d) => d.kind !== 'DaemonSet'),
    );
  });
});
