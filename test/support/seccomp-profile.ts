/**
 * How deploy/kubernetes/seccomp/netprobe.json is made: the containers/common
 * default profile (podman's and CRI-O's RuntimeDefault) with its capability
 * conditions resolved for the DaemonSet's capabilities (BPF and NET_ADMIN),
 * and `bpf` allowed — that default allows it only with CAP_SYS_ADMIN
 * (containers/common#1988), while Docker's and containerd's current defaults
 * gate it on CAP_BPF (moby/moby#43374).
 *
 * The result has no `includes`/`excludes` (capability and architecture
 * conditions), a format extension not every runtime reads the same way for a
 * Localhost profile; plain OCI fields only, so every runtime applies exactly
 * what is written.
 *
 * Rewrite the shipped file (after a change here):
 *   node --import tsx test/support/seccomp-profile.ts --write
 */
import { readFile, writeFile } from 'node:fs/promises';
import { REPO } from './repo-paths.js';

export const CONTAINERS_DEFAULT_PROFILE = '/usr/share/containers/seccomp.json';
export const SHIPPED_PROFILE = `${REPO}deploy/kubernetes/seccomp/netprobe.json`;
/** The capabilities the DaemonSet grants (deploy/kubernetes/daemonset.yaml). */
export const GRANTED_CAPS = ['CAP_BPF', 'CAP_NET_ADMIN'];
/** Architectures kept (x86-64 and arm64 nodes, with their 32-bit compat modes). */
const ARCHES = ['amd64', 'x32', 'x86', 'arm64', 'arm'];
const OCI_ARCHES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'];

interface Conditions {
  caps?: string[];
  arches?: string[];
  minKernel?: string;
}
export interface SyscallRule {
  names: string[];
  action: string;
  args?: unknown[] | null;
  errnoRet?: number;
  includes?: Conditions;
  excludes?: Conditions;
  comment?: string;
  errno?: string;
}
export interface SeccompProfile {
  defaultAction: string;
  defaultErrnoRet?: number;
  architectures?: string[];
  archMap?: unknown[];
  syscalls: SyscallRule[];
}

function applies(rule: SyscallRule): boolean {
  const inc = rule.includes ?? {};
  const exc = rule.excludes ?? {};
  if (inc.minKernel) return false; // none in the source today; refuse to guess
  if (inc.caps?.length && !inc.caps.every((c) => GRANTED_CAPS.includes(c))) return false;
  if (exc.caps?.some((c) => GRANTED_CAPS.includes(c))) return false;
  if (inc.arches?.length && !inc.arches.some((a) => ARCHES.includes(a))) return false;
  if (exc.arches?.length) return false;
  return true;
}

/** The runtime default resolved for the granted capabilities, plus `bpf`. */
export function netprobeProfile(runtimeDefault: SeccompProfile): SeccompProfile {
  const syscalls: SyscallRule[] = [];
  for (const rule of runtimeDefault.syscalls.filter(applies)) {
    const names = rule.action === 'SCMP_ACT_ALLOW' ? rule.names : rule.names.filter((n) => n !== 'bpf');
    if (names.length === 0) continue;
    const out: SyscallRule = { names, action: rule.action };
    if (rule.args?.length) out.args = rule.args;
    if (rule.errnoRet !== undefined) out.errnoRet = rule.errnoRet;
    syscalls.push(out);
  }
  syscalls.push({ names: ['bpf'], action: 'SCMP_ACT_ALLOW' });
  const profile: SeccompProfile = { defaultAction: runtimeDefault.defaultAction, architectures: OCI_ARCHES, syscalls };
  if (runtimeDefault.defaultErrnoRet !== undefined) profile.defaultErrnoRet = runtimeDefault.defaultErrnoRet;
  return profile;
}

export function renderProfile(profile: SeccompProfile): string {
  return `${JSON.stringify(profile, null, 2)}\n`;
}

export async function readProfile(path: string): Promise<SeccompProfile> {
  return JSON.parse(await readFile(path, 'utf8')) as SeccompProfile;
}

if (process.argv[1] === new URL(import.meta.url).pathname && process.argv.includes('--write')) {
  const source = await readProfile(CONTAINERS_DEFAULT_PROFILE);
  await writeFile(SHIPPED_PROFILE, renderProfile(netprobeProfile(source)));
  process.stdout.write(`wrote ${SHIPPED_PROFILE}\n`);
}
