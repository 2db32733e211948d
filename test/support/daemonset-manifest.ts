/**
 * The DaemonSet as a node would receive it: deploy/kubernetes/daemonset.yaml,
 * optionally with the seccomp Component (deploy/kubernetes/seccomp/) applied.
 * The Component's JSON patch is applied here directly (replace/add ops), so
 * the image test needs no kustomize; test/unit/deploy-kustomize.test.ts
 * checks that kustomize itself builds both.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { REPO } from './repo-paths.js';

export const KUBERNETES_DIR = `${REPO}deploy/kubernetes/`;
export const SECCOMP_DIR = `${KUBERNETES_DIR}seccomp/`;

interface PatchOp {
  op: string;
  path: string;
  value?: unknown;
}
interface Component {
  kind: string;
  patches: Array<{ target: { kind: string; name?: string }; patch: string }>;
}

function applyOp(doc: unknown, op: PatchOp): void {
  if (op.op !== 'replace' && op.op !== 'add') throw new Error(`seccomp component: JSON patch op ${op.op} not supported here`);
  const keys = op.path.split('/').slice(1);
  const last = keys.pop();
  let node = doc as Record<string, unknown>;
  for (const key of keys) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) throw new Error(`seccomp component: ${op.path} does not exist in daemonset.yaml`);
    node = next as Record<string, unknown>;
  }
  if (last === undefined || (op.op === 'replace' && !(last in node)))
    throw new Error(`seccomp component: ${op.path} does not exist in daemonset.yaml`);
  node[last] = op.value;
}

/** daemonset.yaml parsed; with `seccomp`, the Component's patches applied. */
export async function loadDaemonSet(opts: { seccomp?: boolean } = {}): Promise<Record<string, unknown>> {
  const ds = parseYaml(await readFile(`${KUBERNETES_DIR}daemonset.yaml`, 'utf8')) as Record<string, unknown>;
  if (!opts.seccomp) return ds;
  const component = parseYaml(await readFile(`${SECCOMP_DIR}kustomization.yaml`, 'utf8')) as Component;
  if (component.kind !== 'Component') throw new Error('deploy/kubernetes/seccomp is expected to be a kustomize Component');
  for (const p of component.patches.filter((x) => x.target.kind === 'DaemonSet'))
    for (const op of parseYaml(p.patch) as PatchOp[]) applyOp(ds, op);
  return ds;
}
