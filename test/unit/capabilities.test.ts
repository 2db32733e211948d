import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CAPABILITY_NAMES,
  DEFAULT_KEEP_CAPABILITIES,
  CapabilityDropError,
  CapabilityNameError,
  capabilityNames,
  dropCapabilities,
  parseCapabilityList,
  parseProcStatusCapabilities,
  planCapabilityDrop,
  readCapabilities,
  type CapabilityMasks,
  type CapabilitySyscalls,
  checkCapabilitiesKeep,
  DEFAULT_CAPABILITIES_KEEP,
} from '../../src/security/capabilities.js';
import { applyCapabilitiesKeep } from '../../src/security/keep-capabilities.js';
import type { Logger } from '../../src/log/logger.js';

// A root process on Linux 6.x (41 capabilities), cut from a real /proc/self/status.
const ROOT_STATUS = `Name:\tnode
Uid:\t0\t0\t0\t0
CapInh:\t0000000000000000
CapPrm:\t000001ffffffffff
CapEff:\t000001ffffffffff
CapBnd:\t000001ffffffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t0
`;
// A non-root process started with setpriv --inh-caps=+bpf,+net_admin --ambient-caps=+bpf,+net_admin.
const AMBIENT_STATUS =
  'CapInh:\t0000008000001000\nCapPrm:\t0000008000001000\nCapEff:\t0000008000001000\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000008000001000\n';

const bit = (name: string): bigint => 1n << BigInt(CAPABILITY_NAMES.indexOf(name));

test('parses the Cap lines of /proc/<pid>/status', () => {
  const root = parseProcStatusCapabilities(ROOT_STATUS);
  assert.equal(root.effective, (1n << 41n) - 1n);
  assert.equal(capabilityNames(root.effective).length, 41);
  assert.equal(root.ambient, 0n);
  const amb = parseProcStatusCapabilities(AMBIENT_STATUS);
  assert.deepEqual(capabilityNames(amb.effective), ['net_admin', 'bpf']);
  assert.deepEqual(capabilityNames(amb.ambient), ['net_admin', 'bpf']);
  // Kernels before 4.3 have no CapAmb line.
  assert.equal(parseProcStatusCapabilities(AMBIENT_STATUS.replace(/CapAmb.*\n/, '')).ambient, 0n);
  assert.throws(() => parseProcStatusCapabilities('Name:\tx\n'), /CapPrm|CapInh/);
});

test('the real /proc/self/status parses, and its names match capsh numbering', () => {
  const self = readCapabilities();
  assert.equal(typeof self.bounding, 'bigint');
  assert.ok(self.bounding !== 0n, 'every Linux process has a bounding set');
  assert.equal(CAPABILITY_NAMES[12], 'net_admin');
  assert.equal(CAPABILITY_NAMES[38], 'perfmon');
  assert.equal(CAPABILITY_NAMES[39], 'bpf');
  assert.deepEqual(capabilityNames(1n << 45n), ['cap_45']);
});

test('capability lists: prefixes, case, spaces; unknown names are errors', () => {
  assert.equal(parseCapabilityList('bpf,net_admin'), bit('bpf') | bit('net_admin'));
  assert.equal(parseCapabilityList(' CAP_BPF , cap_Net_Admin,'), bit('bpf') | bit('net_admin'));
  assert.equal(parseCapabilityList(''), 0n);
  assert.equal(parseCapabilityList(DEFAULT_KEEP_CAPABILITIES.join(',')), bit('bpf') | bit('net_admin'));
  assert.throws(
    () => parseCapabilityList('bpf,net_admn'),
    (e: CapabilityNameError) => e.code === 'NP_ERR_BAD_CAPABILITY' && e.message.includes('net_admn'),
  );
});

test('plan: keep ∩ permitted; the bounding set shrinks only with CAP_SETPCAP', () => {
  const keep = parseCapabilityList('bpf,net_admin,perfmon');
  const root = planCapabilityDrop(parseProcStatusCapabilities(ROOT_STATUS), keep);
  assert.equal(root.keep, keep);
  assert.equal(root.boundingDrops.length, 41 - 3);
  assert.ok(!root.boundingDrops.includes(39));
  assert.deepEqual(root.missing, []);

  const amb = planCapabilityDrop(parseProcStatusCapabilities(AMBIENT_STATUS), keep);
  assert.equal(amb.keep, bit('bpf') | bit('net_admin'));
  assert.deepEqual(amb.boundingDrops, [], 'no CAP_SETPCAP: the bounding set cannot be changed');
  assert.deepEqual(amb.missing, ['perfmon']);
});

/** A fake kernel that enforces the rules the real one does. */
function fakeKernel(start: CapabilityMasks): { sys: CapabilitySyscalls; state: CapabilityMasks; calls: string[] } {
  const state = { ...start };
  const calls: string[] = [];
  const has = (cap: number): boolean => ((state.effective >> BigInt(cap)) & 1n) === 1n;
  const sys: CapabilitySyscalls = {
    clearAmbient: () => {
      calls.push('ambient');
      state.ambient = 0n;
      return 0;
    },
    dropFromBoundingSet: (cap) => {
      calls.push(`bnd-${cap}`);
      if (!has(8)) return 1; // EPERM without CAP_SETPCAP
      state.bounding &= ~(1n << BigInt(cap));
      return 0;
    },
    capset: ({ effective, permitted, inheritable }) => {
      calls.push('capset');
      if ((permitted & ~state.permitted) !== 0n || (effective & ~permitted) !== 0n) return 1;
      Object.assign(state, { effective, permitted, inheritable, ambient: state.ambient & permitted & inheritable });
      return 0;
    },
    setNoNewPrivs: () => {
      calls.push('nnp');
      return 0;
    },
  };
  return { sys, state, calls };
}

test('drop as root: only the keep-list survives, bounding set emptied first', () => {
  const k = fakeKernel(parseProcStatusCapabilities(ROOT_STATUS));
  const { before, after } = dropCapabilities(parseCapabilityList('bpf,net_admin'), k.sys, () => ({ ...k.state }));
  assert.equal(capabilityNames(before.effective).length, 41);
  assert.deepEqual(capabilityNames(after.effective), ['net_admin', 'bpf']);
  assert.deepEqual(capabilityNames(after.permitted), ['net_admin', 'bpf']);
  assert.deepEqual(capabilityNames(after.bounding), ['net_admin', 'bpf']);
  assert.equal(after.inheritable, 0n);
  assert.equal(k.calls.indexOf('capset'), k.calls.length - 2, 'capset after every bounding drop (it removes CAP_SETPCAP)');
  assert.equal(k.calls.at(-1), 'nnp');
});

test('drop with ambient capabilities as non-root: ambient cleared, bounding untouched', () => {
  const k = fakeKernel(parseProcStatusCapabilities(AMBIENT_STATUS));
  const { after } = dropCapabilities(parseCapabilityList('bpf'), k.sys, () => ({ ...k.state }));
  assert.deepEqual(capabilityNames(after.effective), ['bpf']);
  assert.equal(after.ambient, 0n);
  assert.equal(after.bounding, parseProcStatusCapabilities(AMBIENT_STATUS).bounding);
});

test('a refused step is a clear error naming the step', () => {
  const k = fakeKernel(parseProcStatusCapabilities(ROOT_STATUS));
  k.sys.capset = () => 1;
  assert.throws(
    () => dropCapabilities(parseCapabilityList('bpf'), k.sys, () => ({ ...k.state })),
    (e: CapabilityDropError) => e.code === 'NP_ERR_CAPABILITY_DROP' && e.message.includes('capset') && e.message.includes('errno 1'),
  );
});

test('--capabilities.keep values: lists, all, none; unknown names refused with the name', () => {
  for (const ok of ['bpf,net_admin', 'all', 'none', 'CAP_BPF', '']) assert.equal(checkCapabilitiesKeep(ok), undefined, ok);
  assert.match(checkCapabilitiesKeep('bpf,sys_admn') ?? '', /sys_admn/);
  assert.equal(DEFAULT_CAPABILITIES_KEEP, 'bpf,net_admin');
});

test('applyCapabilitiesKeep: all drops nothing; a list drops and logs what is kept', () => {
  const k = fakeKernel(parseProcStatusCapabilities(ROOT_STATUS));
  const logs: string[] = [];
  const logger = { info: (_o: object, m: string) => logs.push(m), warn: (_o: object, m: string) => logs.push(m) } as unknown as Logger;
  applyCapabilitiesKeep('all', logger, { syscalls: () => k.sys });
  assert.equal(k.calls.length, 0);
  // The real read-back goes to /proc/thread-self: only the calls are checked here.
  assert.throws(() => applyCapabilitiesKeep('bpf', logger, { syscalls: () => ({ ...k.sys, capset: () => 1 }) }), /capset/);
  assert.ok(k.calls.includes('ambient'));
});

test('applyCapabilitiesKeep in tc mode keeps net_admin (needed to remove the filters at exit), with a warning', () => {
  const k = fakeKernel(parseProcStatusCapabilities(ROOT_STATUS));
  const warnings: string[] = [];
  const logger = { info: () => undefined, warn: (_o: object, m: string) => warnings.push(m) } as unknown as Logger;
  let kept = -1n;
  assert.throws(() =>
    applyCapabilitiesKeep('none', logger, {
      attachMode: 'tc',
      syscalls: () => ({
        ...k.sys,
        capset: (s) => {
          kept = s.effective;
          return 1;
        },
      }),
    }),
  );
  assert.deepEqual(capabilityNames(kept), ['net_admin']);
  assert.match(warnings[0] ?? '', /net_admin/);
});
