/**
 * The loader's error catalogue (no kernel): every error says what was being
 * done and what to do, with a stable code; and how capability sets are read
 * to tell a privilege problem from a verifier rejection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants as os } from 'node:os';
import { NetprobeError } from '../../src/errors/index.js';
import { callError, LibbpfMissingError, ProgramLoadError, TcxUnsupportedError } from '../../src/bpf/errors.js';
import { effectiveCapabilities, hasBpfPrivileges } from '../../src/bpf/privileges.js';
import { EbpfManager } from '../../src/bpf/ebpf-manager.js';

test('EPERM/EACCES name CAP_BPF and CAP_NET_ADMIN and say what was being done', () => {
  for (const errno of [os.errno.EPERM, os.errno.EACCES]) {
    const e = callError('attach tcx ingress of eth0 (ifindex 4)', errno);
    assert.equal(e.code, 'NP_ERR_NO_PRIVILEGE');
    assert.match(e.message, /^attach tcx ingress of eth0 \(ifindex 4\): E(PERM|ACCES)/);
    assert.match(e.message, /CAP_BPF/);
    assert.match(e.message, /CAP_NET_ADMIN/);
    assert.match(e.message, /RLIMIT_MEMLOCK/, "warns against libbpf's misleading advice");
  }
  const other = callError('attach tc egress of eth0 (ifindex 4)', os.errno.ENODEV);
  assert.equal(other.code, 'NP_ERR_BPF');
  assert.equal(other.errno, os.errno.ENODEV);
  assert.match(other.message, /ENODEV/);
});

test('no tcx: the minimum kernel and the auto mode', () => {
  const e = new TcxUnsupportedError('EINVAL');
  assert.equal(e.code, 'NP_ERR_NO_TCX');
  assert.match(e.message, /Linux 6\.6/);
  assert.match(e.message, /--ebpf\.attach-mode=auto/);
});

test('no libbpf: the package to install', () => {
  const e = new LibbpfMissingError(new Error('libbpf.so.1: cannot open shared object file'));
  assert.equal(e.code, 'NP_ERR_NO_LIBBPF');
  assert.match(e.message, /apt-get install libbpf1/);
  assert.ok(e instanceof NetprobeError);
});

test('verifier rejection: the object, the errno, where the log is', () => {
  const e = new ProgramLoadError('/x/netprobe.bpf.o', os.errno.EACCES);
  assert.equal(e.code, 'NP_ERR_BPF_LOAD');
  assert.match(e.message, /load BPF object \/x\/netprobe\.bpf\.o: the kernel rejected it: EACCES/);
  assert.match(e.message, /--log\.level=debug/);
});

test('capabilities from /proc/self/status: both CAP_BPF and CAP_NET_ADMIN (or CAP_SYS_ADMIN) are needed', () => {
  const status = (hex: string): string => `Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t${hex}\nCapBnd:\t000001ffffffffff\n`;
  assert.equal(effectiveCapabilities(status('000001ffffffffff')), 0x1ffffffffffn);
  assert.equal(hasBpfPrivileges(effectiveCapabilities(status('000001ffffffffff'))), true, 'root');
  assert.equal(hasBpfPrivileges((1n << 39n) | (1n << 12n)), true, 'CAP_BPF + CAP_NET_ADMIN');
  assert.equal(hasBpfPrivileges(1n << 21n), true, 'CAP_SYS_ADMIN alone');
  assert.equal(hasBpfPrivileges(1n << 39n), false, 'CAP_BPF alone');
  assert.equal(hasBpfPrivileges(1n << 12n), false, 'CAP_NET_ADMIN alone');
  assert.equal(hasBpfPrivileges(0n), false);
  assert.equal(hasBpfPrivileges(undefined), false);
  assert.equal(effectiveCapabilities('Name:\tnode\n'), undefined);
});

test('EbpfManager: bad patterns and options fail at construction; reading before loading is refused', () => {
  assert.throws(
    () => new EbpfManager({ include: ['{eth'] }),
    (e: unknown) => e instanceof NetprobeError && e.code === 'NP_ERR_BAD_GLOB',
  );
  assert.throws(
    () => new EbpfManager({ overflowCapacity: 0 }),
    (e: unknown) => e instanceof NetprobeError && e.code === 'NP_ERR_BAD_OPTION',
  );
  const m = new EbpfManager();
  assert.equal(m.kind, 'ebpf');
  assert.equal(m.attachMode, undefined);
  assert.equal(m.interfaceCount, 0);
  assert.deepEqual(m.interfaces(), []);
  assert.throws(
    () => m.readCounters(),
    (e: unknown) => e instanceof NetprobeError && e.code === 'NP_ERR_STATE',
  );
});
