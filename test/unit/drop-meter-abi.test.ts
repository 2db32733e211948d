/**
 * src/bpf/drop-meter/abi.ts against bpf/drop-meter.h (constants from the
 * header's text, the key layout measured by compiling a probe with clang),
 * the committed object against its source, the BTF reader against bpftool's
 * reading of the same kernel BTF, and the reason naming (pure).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, arch } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as abi from '../../src/bpf/drop-meter/abi.js';
import { reasonNames, type EnumSource } from '../../src/bpf/drop-meter/drop-reasons.js';
import { parseBtf, VMLINUX_BTF_PATH, type BtfEnumerator } from '../../src/bpf/drop-meter/vmlinux-btf.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const header = readFileSync(join(repo, 'bpf/drop-meter.h'), 'utf8');
const define = (name: string): number => {
  const m = new RegExp(`#define ${name} (0x[0-9a-f]+|\\d+)`).exec(header);
  assert.ok(m?.[1], `${name} in drop-meter.h`);
  return Number(m[1]);
};
/** [netns, ifindex, reason], and the slot dm_slot_index() gives it with DM_SLOTS 512, worked out by hand. */
const SLOT_TABLE: Array<[number, number, number, number]> = [
  [0, 0, 0, 0],
  // 1 * 2654435761 = 0x9e3779b1; & 511 = 0x1b1 = 433
  [0, 1, 0, 433],
  // 0x9e3779b1 ^ 3 ^ 4026532238 (0xf000018e) = 0x6e37783c; & 511 = 0x03c = 60
  [4026532238, 1, 3, 60],
  // 2 * 2654435761 = 0x13c6ef362 -> u32 0x3c6ef362; ^ 0xf000018e = 0xcc6ef2ec; & 511 = 0x0ec = 236
  [4026532238, 2, 0, 236],
  // 0xffffffff * 2654435761 = 2^32 - 2654435761 (mod 2^32) = 0x61c8864f; ^ 0xffff ^ 0xffffffff = 0x9e37864f; & 511 = 0x04f = 79
  [0xffffffff, 0xffffffff, 0xffff, 79],
];
const SLOT_INPUTS = [...SLOT_TABLE.map(([n, i, r]) => [n, i, r]), [4026531840, 7, 77], [4026532999, 123456, 2], [1, 2, 3]] as Array<
  [number, number, number]
>;
const SLOT_INPUTS_C = `static const unsigned int slotInputs[][3] = { ${SLOT_INPUTS.map(([n, i, r]) => `{ ${n}u, ${i}u, ${r}u }`).join(', ')} };`;
const enumValue = (name: string): number => {
  const m = new RegExp(`${name} = (\\d+)`).exec(header);
  assert.ok(m?.[1], `${name} in drop-meter.h`);
  return Number(m[1]);
};

test('constants equal drop-meter.h', () => {
  assert.equal(abi.DM_DROPS_MAX, define('DM_DROPS_MAX'));
  assert.equal(abi.DM_OVERFLOW_REASON, define('DM_OVERFLOW_REASON'));
  assert.equal(abi.DM_IFNAMSIZ, define('DM_IFNAMSIZ'));
  assert.equal(abi.DM_SLOTS, define('DM_SLOTS'));
  assert.equal(abi.DM_STAT_MAP_FULL, enumValue('DM_STAT_MAP_FULL'));
  assert.equal(abi.DM_STAT_MAX, enumValue('DM_STAT_MAX'));
});

test('dropSlotIndex: a table worked out by hand from the C formula', () => {
  for (const [netns, ifindex, reason, slot] of SLOT_TABLE)
    assert.equal(abi.dropSlotIndex(netns, ifindex, reason), slot, `${netns} ${ifindex} ${reason}`);
  const key = abi.encodeDropKey({ netnsInode: 4026532238, ifindex: 1, reason: 3, cgroupId: 5n, interfaceName: 'lo' });
  assert.equal(abi.slotIndexOfKey(key), 60);
});

test('the key layout equals what clang compiles from drop-meter.h, and keys round-trip', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-dm-abi-'));
  try {
    const src = join(dir, 'probe.c');
    writeFileSync(
      src,
      `#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <linux/types.h>
#include "drop-meter.h"
${SLOT_INPUTS_C}
int main(void) {
  struct dm_key k;
  memset(&k, 0, sizeof(k));
  k.netns = 4026532238u; k.ifindex = 7; k.reason = 3; k.cgroup = 0x123456789ull; strcpy(k.ifname, "veth-a1");
  printf("%zu %zu %zu %zu ", sizeof(struct dm_key), sizeof(struct dm_config), sizeof(struct dm_slot), offsetof(struct dm_slot, key));
  for (size_t i = 0; i < sizeof(k); i++) printf("%02x", ((unsigned char *)&k)[i]);
  printf("\\n");
  for (size_t i = 0; i < sizeof(slotInputs) / sizeof(slotInputs[0]); i++)
    printf("%u ", dm_slot_index(slotInputs[i][0], slotInputs[i][1], slotInputs[i][2]));
  printf("\\n");
  return 0;
}
`,
    );
    const archInclude = `/usr/include/${arch() === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
    execFileSync('clang', ['-I', join(repo, 'bpf'), '-I', archInclude, src, '-o', join(dir, 'probe')]);
    const [line, indexes] = execFileSync(join(dir, 'probe'), { encoding: 'utf8' }).trim().split('\n');
    const [size, config, slot, slotKey, hex] = (line ?? '').split(' ');
    assert.equal(abi.DROP_KEY_SIZE, Number(size));
    assert.equal(abi.CONFIG_VALUE_SIZE, Number(config));
    assert.equal(abi.SLOT_VALUE_SIZE, Number(slot));
    assert.equal(abi.EXPECTED_MAPS[abi.MAP_SLOTS]?.valueSize, Number(slot));
    assert.equal(slotKey, '8', 'the slot key comes after the count');
    assert.deepEqual(
      (indexes ?? '').trim().split(' ').map(Number),
      SLOT_INPUTS.map(([n, i, r]) => abi.dropSlotIndex(n, i, r)),
      "dm_slot_index() of drop-meter.h equals abi.ts's dropSlotIndex",
    );
    const key = { netnsInode: 4026532238, ifindex: 7, reason: 3, cgroupId: 0x123456789n, interfaceName: 'veth-a1' };
    assert.equal(abi.encodeDropKey(key).toString('hex'), hex);
    assert.deepEqual(abi.decodeDropKey(Buffer.from(hex ?? '', 'hex')), key);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the committed bpf/drop-meter.bpf.o is what its source compiles to', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-dm-obj-'));
  try {
    const out = join(dir, 'drop-meter.bpf.o');
    execFileSync('bash', [join(repo, 'bpf/build.sh'), out, 'bpf/drop-meter.bpf.c']);
    assert.ok(
      readFileSync(out).equals(readFileSync(join(repo, 'bpf/drop-meter.bpf.o'))),
      'rebuild with bash bpf/build.sh and commit the object',
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the BTF reader agrees with bpftool on the running kernel's drop reasons and kfree_skb prototype", (t) => {
  if (!existsSync(VMLINUX_BTF_PATH)) return t.skip('this kernel exports no BTF');
  const btf = parseBtf(readFileSync(VMLINUX_BTF_PATH));
  const c = execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX_BTF_PATH, 'format', 'c'], { encoding: 'utf8', maxBuffer: 256 << 20 });
  const body = /^enum skb_drop_reason \{\n([^}]*)\};/m.exec(c)?.[1];
  if (body === undefined) assert.equal(btf.enumValues('skb_drop_reason'), undefined);
  else {
    const fromBpftool = [...body.matchAll(/^\s*(\w+) = (\d+),$/gm)].map((m) => ({ name: m[1], value: BigInt(m[2] ?? '') }));
    assert.deepEqual(btf.enumValues('skb_drop_reason'), fromBpftool);
  }
  const proto = /^typedef void \(\*btf_trace_kfree_skb\)\(([^)]*)\);$/m.exec(c)?.[1];
  assert.equal(btf.typedefParamCount('btf_trace_kfree_skb'), proto === undefined ? undefined : proto.split(',').length);
});

function enums(table: Record<string, Array<[string, number]>>): EnumSource {
  return {
    enumNames: () => Object.keys(table),
    enumValues: (name) => table[name]?.map(([n, v]): BtfEnumerator => ({ name: n, value: BigInt(v) })),
  };
}

test('reason names: prefix dropped, lower case; not-drops, MAX and the mask get none', () => {
  const r = reasonNames(
    enums({
      skb_drop_reason: [
        ['SKB_NOT_DROPPED_YET', 0],
        ['SKB_CONSUMED', 1],
        ['SKB_DROP_REASON_NOT_SPECIFIED', 2],
        ['SKB_DROP_REASON_NO_SOCKET', 3],
        ['SKB_DROP_REASON_TC_INGRESS', 60],
        ['SKB_DROP_REASON_MAX', 61],
        ['SKB_DROP_REASON_SUBSYS_MASK', 0xffff0000],
      ],
    }),
  );
  assert.equal(r.reasonsKnown, true);
  assert.equal(r.nameOf(0), undefined);
  assert.equal(r.nameOf(1), undefined);
  assert.equal(r.nameOf(2), 'not_specified');
  assert.equal(r.nameOf(3), 'no_socket');
  assert.equal(r.nameOf(60), 'tc_ingress');
  assert.equal(r.nameOf(61), 'unknown_61');
  assert.equal(r.nameOf(9999), 'unknown_9999');
  assert.deepEqual(
    [...r.core],
    [
      [2, 'not_specified'],
      [3, 'no_socket'],
      [60, 'tc_ingress'],
    ],
  );
});

test('reason names: subsystem reasons by their own enum, else by code', () => {
  const r = reasonNames(
    enums({
      skb_drop_reason: [['SKB_DROP_REASON_NO_SOCKET', 3]],
      skb_drop_reason_subsys: [
        ['SKB_DROP_REASON_SUBSYS_CORE', 0],
        ['SKB_DROP_REASON_SUBSYS_MAC80211_UNUSABLE', 1],
        ['SKB_DROP_REASON_SUBSYS_OPENVSWITCH', 2],
        ['SKB_DROP_REASON_SUBSYS_NUM', 3],
      ],
      ovs_drop_reason: [
        ['OVS_DROP_LAST_ACTION', (2 << 16) | 1],
        ['OVS_DROP_ACTION_ERROR', (2 << 16) | 2],
      ],
      // Not a drop-reason enum, even though its values look like subsystem 1's.
      tcp_state_flags: [['SOMETHING', (1 << 16) | 1]],
    }),
  );
  assert.equal(r.nameOf((2 << 16) | 1), 'openvswitch_last_action');
  assert.equal(r.nameOf((2 << 16) | 2), 'openvswitch_action_error');
  assert.equal(r.nameOf((2 << 16) | 9), 'openvswitch_9');
  assert.equal(r.nameOf((1 << 16) | 1), 'mac80211_unusable_1');
  assert.equal(r.nameOf((3 << 16) | 1), `unknown_${(3 << 16) | 1}`);
});

test('reason names: a kernel without enum skb_drop_reason names every drop not_specified', () => {
  const r = reasonNames(enums({}));
  assert.equal(r.reasonsKnown, false);
  assert.equal(r.nameOf(0), 'not_specified');
  assert.equal(r.nameOf(17), 'not_specified');
});

test('parseBtf refuses what is not BTF', () => {
  assert.throws(() => parseBtf(Buffer.alloc(64)), /not BTF/);
});

test('the overflow key is told apart from every other key, and its slot is never claimed by the meter', () => {
  const overflow = abi.encodeDropKey(abi.OVERFLOW_KEY);
  const key = abi.encodeDropKey({ netnsInode: 100, ifindex: 0, reason: 5, cgroupId: 0n, interfaceName: '' });
  assert.ok(abi.isOverflowKey(overflow) && !abi.isOverflowKey(key));
  assert.equal(abi.slotIndexOfKey(overflow), abi.DM_OVERFLOW_REASON & (abi.DM_SLOTS - 1));
  assert.deepEqual(abi.DM_SLOT_OWNER, { offset: abi.SLOT_VALUE_SIZE - abi.DROP_KEY_SIZE, size: abi.DROP_KEY_SIZE });
});
