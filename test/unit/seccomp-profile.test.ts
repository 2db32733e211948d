/**
 * The seccomp profile shipped for runtimes whose default refuses bpf(2)
 * without CAP_SYS_ADMIN (deploy/kubernetes/seccomp/netprobe.json), and how
 * netprobe tells a seccomp refusal from a missing capability.
 * (test/privileged/container-image.test.ts runs the image under both profiles.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import {
  CONTAINERS_DEFAULT_PROFILE,
  netprobeProfile,
  readProfile,
  SHIPPED_PROFILE,
  type SeccompProfile,
} from '../support/seccomp-profile.js';
import { seccompFilterActive } from '../../src/bpf/seccomp-mode.js';
import { ERROR_CATALOGUE } from '../../src/errors/index.js';

function action(profile: SeccompProfile, syscall: string): string[] {
  return profile.syscalls.filter((r) => r.names.includes(syscall)).map((r) => `${r.action}${r.args?.length ? ' (with args)' : ''}`);
}

test('the shipped profile allows bpf, refuses what the runtime default refuses, and has no conditions to misread', async () => {
  const profile = await readProfile(SHIPPED_PROFILE);
  assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
  assert.deepEqual(action(profile, 'bpf'), ['SCMP_ACT_ALLOW']);
  // Refused by the runtime default for a container without CAP_SYS_ADMIN & co., and still refused here.
  for (const refused of ['init_module', 'finit_module', 'perf_event_open', 'kexec_load', 'open_by_handle_at', 'acct', 'fanotify_init'])
    assert.ok(!action(profile, refused).includes('SCMP_ACT_ALLOW'), `${refused} is not allowed`);
  for (const needed of ['read', 'write', 'socket', 'sendmsg', 'recvmsg', 'mmap', 'epoll_wait', 'clone3'])
    assert.ok(
      action(profile, needed).some((a) => a.startsWith('SCMP_ACT_ALLOW')),
      `${needed} is allowed`,
    );
  assert.ok(
    profile.syscalls.every((r) => r.includes === undefined && r.excludes === undefined),
    'plain OCI rules: no includes/excludes',
  );
  assert.ok(profile.architectures?.includes('SCMP_ARCH_X86_64') && profile.architectures.includes('SCMP_ARCH_AARCH64'));
});

test(
  'the shipped profile is the containers/common default resolved for BPF + NET_ADMIN, plus bpf',
  { skip: !existsSync(CONTAINERS_DEFAULT_PROFILE) && `no ${CONTAINERS_DEFAULT_PROFILE} (podman not installed)` },
  async () => {
    const source = await readProfile(CONTAINERS_DEFAULT_PROFILE);
    assert.deepEqual(
      await readProfile(SHIPPED_PROFILE),
      netprobeProfile(source),
      'regenerate: node --import tsx test/support/seccomp-profile.ts --write',
    );
    // The difference that matters: the default allows bpf only with CAP_SYS_ADMIN.
    const bpfRules = source.syscalls.filter((r) => r.names.includes('bpf'));
    assert.ok(bpfRules.some((r) => r.action === 'SCMP_ACT_ALLOW' && r.includes?.caps?.includes('CAP_SYS_ADMIN')));
  },
);

test('a seccomp filter is told apart from its absence by the Seccomp line of /proc/<pid>/status', () => {
  assert.equal(seccompFilterActive('Name:\tnode\nSeccomp:\t2\nSeccomp_filters:\t1\n'), true);
  assert.equal(seccompFilterActive('Name:\tnode\nSeccomp:\t0\nSeccomp_filters:\t0\n'), false);
  assert.equal(seccompFilterActive('Name:\tnode\n'), false);
  const { hint, summary } = ERROR_CATALOGUE.NP_ERR_SECCOMP;
  assert.match(summary, /seccomp/);
  assert.match(hint, /deploy\/kubernetes\/seccomp\/netprobe\.json/);
  assert.match(hint, /Localhost/);
});
